"""Kommuner and län by their SCB codes (domain.md §4 "Kommunkod", source W38).

A kommunkod is 4 digits whose first two are the länskod. The shipped table
(``data/kommuner.csv``, columns ``kommunkod,name,lanskod,lan_name``, UTF-8) holds the kommuner of
Gävleborgs län (21), Västerbottens län (24) and Norrbottens län (25) exactly as listed in
domain.md §4, plus 0180 Stockholm (Stockholms län, 01). It is read once, lazily, on first use.

Unknown codes raise :class:`~hub.errors.IdentifierError`, never ``KeyError``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from hub.errors import IdentifierError


@dataclass(frozen=True, slots=True)
class Kommun:
    """One kommun: its kommunkod, name, and the länskod and name of its län."""

    code: str
    name: str
    lanskod: str
    lan_name: str


@cache
def _table() -> dict[str, Kommun]:
    """The shipped table keyed by kommunkod, in code order; read on first use only."""
    text = (files("hub.schemas") / "data" / "kommuner.csv").read_text(encoding="utf-8")
    rows = [Kommun(r["kommunkod"], r["name"], r["lanskod"], r["lan_name"])
            for r in csv.DictReader(text.splitlines())]
    return {k.code: k for k in sorted(rows, key=lambda k: k.code)}


@cache
def _lan_names() -> dict[str, str]:
    """Länskod → län name, for every län with at least one shipped kommun."""
    return {k.lanskod: k.lan_name for k in _table().values()}


def _shown(code: object, digits: int) -> str:
    """``code`` for an error message when it has the expected shape, else ``<masked>``: a
    garbled argument could be anything, a personnummer included."""
    return code if isinstance(code, str) and re.fullmatch(f"[0-9]{{{digits}}}", code) else "<masked>"


def is_known_kommunkod(code: str) -> bool:
    """True when ``code`` is a kommunkod of the shipped table (exact match, no trimming)."""
    return code in _table()


def kommun(code: str) -> Kommun:
    """The kommun with this kommunkod; IdentifierError ``unknown kommunkod …`` otherwise."""
    found = _table().get(code)
    if found is None:
        raise IdentifierError(f"unknown kommunkod {_shown(code, 4)}")
    return found


def kommuner(lanskod: str | None = None) -> tuple[Kommun, ...]:
    """Every shipped kommun, or only those of län ``lanskod`` (empty for an unknown län),
    sorted by kommunkod."""
    return tuple(k for k in _table().values() if lanskod is None or k.lanskod == lanskod)


def lan_name(lanskod: str) -> str:
    """The name of the län with this länskod (``"24"`` → ``"Västerbottens län"``);
    IdentifierError ``unknown länskod …`` for a län not in the shipped table."""
    name = _lan_names().get(lanskod)
    if name is None:
        raise IdentifierError(f"unknown länskod {_shown(lanskod, 2)}")
    return name
