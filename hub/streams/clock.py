"""Clocks that read the wall clock. Only the runtime and the demo use them; processors get ``now``."""

from __future__ import annotations

import datetime as dt
import time


class SystemClock:
    """The real time, UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than the wall clock from ``start``.

    The demo uses it so that a day of a county's traffic, with its deadlines, passes in seconds.
    """

    def __init__(self, start: dt.datetime, speed: float) -> None:
        self.start = start.astimezone(dt.UTC)
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self._t0) * self.speed)
