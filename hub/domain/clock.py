"""Clocks. Processors never read the wall clock: the runtime passes ``now`` from a Clock."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Source of the current time, always timezone-aware UTC."""

    def now(self) -> dt.datetime: ...


class FakeClock:
    """A clock that moves only when told to: tests and simulated replays."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime) -> None:
        """Move to ``when``; the clock never goes backwards."""
        when = when.astimezone(dt.UTC)
        if when > self._now:
            self._now = when

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self._now += delta
        return self._now
