"""Kommuner and län by their SCB codes (domain.md §4 "Kommunkod", source W38).

A kommunkod is 4 digits whose first two are the länskod. The shipped table
(``data/kommuner.csv``, columns ``kommunkod,name,lanskod,lan_name,valid_from,valid_to``, UTF-8,
``#`` lines are comments naming the source) holds all 290 kommuner of Sweden's 21 län from SCB's
kommunlista. Each row holds from ``valid_from`` to ``valid_to`` (empty: still in force), so a
merger or a new code is one more row. It is read once, lazily, on first use.

Unknown codes raise :class:`~hub.errors.IdentifierError`, never ``KeyError``.
"""

from __future__ import annotations

import csv
import datetime as dt
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
    valid_from: dt.date = dt.date(2007, 1, 1)
    valid_to: dt.date | None = None

    def valid_on(self, day: dt.date) -> bool:
        """True when the code was in force on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@cache
def _table() -> dict[str, Kommun]:
    """The shipped table keyed by kommunkod, in code order; read on first use only."""
    text = (files("hub.schemas") / "data" / "kommuner.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    rows = [Kommun(r["kommunkod"], r["name"], r["lanskod"], r["lan_name"],
                   dt.date.fromisoformat(r["valid_from"]),
                   dt.date.fromisoformat(r["valid_to"]) if r["valid_to"] else None)
            for r in csv.DictReader(lines)]
    # The latest row of a code is the one in force (or the last that was); older rows of a
    # reused code are history only.
    table: dict[str, Kommun] = {}
    for k in sorted(rows, key=lambda k: (k.code, k.valid_from)):
        table[k.code] = k
    return table


@cache
def _lan_names() -> dict[str, str]:
    """Länskod → län name, for every län with at least one shipped kommun."""
    return {k.lanskod: k.lan_name for k in _table().values()}


def _shown(code: object, digits: int) -> str:
    """``code`` for an error message when it has the expected shape, else ``<masked>``: a
    garbled argument could be anything, a personnummer included."""
    return code if isinstance(code, str) and re.fullmatch(f"[0-9]{{{digits}}}", code) else "<masked>"


def is_known_kommunkod(code: str, on: dt.date | None = None) -> bool:
    """True when ``code`` is a kommunkod of the shipped table (exact match, no trimming) — and,
    given ``on``, one in force on that day."""
    found = _table().get(code)
    return found is not None and (on is None or found.valid_on(on))


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
