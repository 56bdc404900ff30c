"""Kommuner and län (SCB codes, W38): the shipped table covers Gävleborg (21), Västerbotten (24),
Norrbotten (25) and Stockholm kommun (0180). Loaded once, lazily, from ``data/kommuner.csv``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from hub.errors import IdentifierError


@dataclass(frozen=True, slots=True)
class Kommun:
    """One kommun: its code, name and län."""

    code: str
    name: str
    lanskod: str
    lan_name: str


@cache
def _table() -> dict[str, Kommun]:
    text = (files("hub.schemas") / "data" / "kommuner.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {r["kommunkod"]: Kommun(r["kommunkod"], r["name"], r["lanskod"], r["lan_name"])
            for r in rows}


def is_known_kommunkod(code: str) -> bool:
    return code in _table()


def kommun(code: str) -> Kommun:
    """The kommun with this code; IdentifierError for an unknown one."""
    found = _table().get(code)
    if found is None:
        raise IdentifierError(f"unknown kommunkod {code}")
    return found


def kommuner(lanskod: str | None = None) -> tuple[Kommun, ...]:
    """Every shipped kommun, or those of one län, sorted by code."""
    return tuple(sorted((k for k in _table().values() if lanskod in (None, k.lanskod)),
                        key=lambda k: k.code))


def lan_name(lanskod: str) -> str:
    for k in _table().values():
        if k.lanskod == lanskod:
            return k.lan_name
    raise IdentifierError(f"unknown länskod {lanskod}")
