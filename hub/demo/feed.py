"""Plays simulated traffic into a running hub as the (scaled) clock passes each message's time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from hub.demo.simulator import Scheduled
from hub.domain.clock import Clock
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime

log = logging.getLogger(__name__)


class DemoFeed:
    """Submits each scheduled message once the clock has reached its time."""

    def __init__(self, traffic: Sequence[Scheduled], ingestor: Ingestor, clock: Clock,
                 runtime: EmbeddedRuntime | None = None, *, source: str = "demo") -> None:
        self.traffic = list(traffic)
        self.ingestor = ingestor
        self.clock = clock
        self.runtime = runtime
        self.source = source
        self.sent = 0
        self.rejected = 0

    def pump(self) -> int:
        """Submit everything due now; returns how many were submitted."""
        now = self.clock.now()
        due: list[Scheduled] = []
        while self.sent + len(due) < len(self.traffic) and self.traffic[self.sent + len(due)].at <= now:
            due.append(self.traffic[self.sent + len(due)])
        if not due:
            return 0
        outcomes = self.ingestor.submit(self.source, [d.raw for d in due], connection="demo-feed")
        self.sent += len(due)
        self.rejected += sum(1 for o in outcomes if not o.accepted)
        if self.runtime is not None:
            self.runtime.notify()
        return len(due)

    @property
    def done(self) -> bool:
        return self.sent >= len(self.traffic)

    async def run(self, stop: asyncio.Event, *, tick: float = 0.1) -> None:
        while not stop.is_set() and not self.done:
            self.pump()
            await asyncio.sleep(tick)
        if self.done:
            log.info("demo feed finished: %d messages, %d rejected", self.sent, self.rejected)
