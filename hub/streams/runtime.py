"""The embedded runtime: runs registered processors over the SQLite log.

For each processor it reads a batch of records past its committed position, applies them to the
keyed state, and writes the outputs, the changed states, the timers and the new position in ONE
transaction. A kill at any point therefore leaves either the whole batch or none of it: outputs
are neither lost nor duplicated, and a restart resumes at the committed position.

A record that a processor cannot handle (a bug, or an event the log should never have held) is
moved to ``svu.dlq.processor-<name>`` with the reason, and processing goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.domain.clock import Clock
from hub.domain.processor import Processor, Step
from hub.errors import ValidationFailed
from hub.streams.dlq import dead_letter
from hub.streams.log import Append, Positions, Record, partition_for
from hub.streams.projections import Projection
from hub.streams.sqlite_log import SqliteLog
from hub.streams.tracing import traced

log = logging.getLogger(__name__)


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass
class ProcessorStats:
    """Counters of one processor since start (exported as metrics)."""

    events: int = 0
    emitted: int = 0
    timers_fired: int = 0
    failures: int = 0
    batches: int = 0


@dataclass
class _Bound:
    processor: Processor[Any, Any]
    positions: Positions
    cache: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    stats: ProcessorStats = field(default_factory=ProcessorStats)
    marks: dict[int, dt.datetime] = field(default_factory=dict)
    """Per input partition, the latest receipt time consumed in this pass: while input still
    flows, timers fire only up to it, so a replay or a catch-up fires no deadline before the
    events that precede it; once idle, up to the clock."""


class EmbeddedRuntime:
    """Drives processors over a SqliteLog with an injected clock."""

    def __init__(
        self,
        log: SqliteLog,
        processors: Sequence[Processor[Any, Any]],
        clock: Clock,
        *,
        batch_size: int = 500,
        cache_size: int = 50_000,
        projections: Sequence[Projection] = (),
    ) -> None:
        self.log = log
        self.clock = clock
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._bound = [_Bound(p, log.positions(p.NAME)) for p in processors]
        self._projections = [(p, log.positions(p.NAME)) for p in projections]
        with log.transaction() as tx:
            for projection in projections:
                projection.create(tx.db)
        self._wakeup = asyncio.Event()

    @property
    def processors(self) -> list[Processor[Any, Any]]:
        return [b.processor for b in self._bound]

    def stats(self) -> dict[str, ProcessorStats]:
        return {b.processor.NAME: b.stats for b in self._bound}

    def lag(self) -> dict[str, int]:
        """Records each processor and projection has yet to read, over all its inputs."""
        out = {}
        readers = [(b.processor.NAME, b.processor.INPUTS, b.positions) for b in self._bound]
        readers += [(p.NAME, self._inputs(p), pos) for p, pos in self._projections]
        for name, inputs, positions in readers:
            total = 0
            for topic in inputs:
                for p in range(self.log.partitions(topic)):
                    total += max(0, self.log.end_offset(topic, p) - positions.get(topic, p))
            out[name] = total
        return out

    def _inputs(self, projection: Projection) -> tuple[str, ...]:
        if not projection.PREFIXES:
            return projection.INPUTS
        return (*projection.INPUTS, *[t for t in self.log.topics() if t.startswith(projection.PREFIXES)])

    def reset(self) -> None:
        """Forget every processor's position, state and timers: the next pass replays the log
        from offset 0 and rebuilds the same state (processing is deterministic)."""
        for bound in self._bound:
            self.log.reset(bound.processor.NAME, [bound.processor.NAME])
            bound.positions = Positions()
            bound.cache.clear()
        for i, (projection, _) in enumerate(self._projections):
            self.log.reset(projection.NAME, [])
            with self.log.transaction() as tx:
                projection.clear(tx.db)
            self._projections[i] = (projection, Positions())

    def notify(self) -> None:
        """Wake the async loop: new records were appended."""
        self._wakeup.set()

    # ── one pass ────────────────────────────────────────────────────────────────────────────

    def run_once(self) -> int:
        """For each processor: one batch from every input partition, applied and committed in
        one transaction; then its due timers. Returns the work done."""
        done = 0
        for bound in self._bound:
            records: list[Record] = []
            for topic in bound.processor.INPUTS:
                for partition in range(self.log.partitions(topic)):
                    records += self.log.read(
                        topic, partition, bound.positions.get(topic, partition), self.batch_size
                    )
            if records:
                self._apply(bound, records)
                done += len(records)
            done += self._fire_timers(bound)
        for i, (projection, positions) in enumerate(self._projections):
            records = []
            for topic in self._inputs(projection):
                for partition in range(self.log.partitions(topic)):
                    records += self.log.read(topic, partition, positions.get(topic, partition),
                                             self.batch_size)
            if records:
                new = Positions(dict(positions.offsets))
                for record in records:
                    new.advance(record)
                with self.log.transaction() as tx:
                    projection.apply(tx.db, records)
                    tx.commit_positions(projection.NAME, new)
                self._projections[i] = (projection, new)
                done += len(records)
        return done

    def run_until_idle(self, *, on_progress: Callable[[int], None] | None = None) -> int:
        """Run passes until nothing is left to do (tests, ingest, replay, benchmarks)."""
        total = 0
        while True:
            n = self.run_once()
            if n == 0:
                return total
            total += n
            if on_progress is not None:
                on_progress(n)

    async def run(self, stop: asyncio.Event, *, idle_sleep: float = 0.05) -> None:
        """Run until ``stop`` is set; sleeps while idle, wakes early on notify()."""
        while not stop.is_set():
            n = self.run_once()
            if n == 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=idle_sleep)
            else:
                await asyncio.sleep(0)

    # ── internals ───────────────────────────────────────────────────────────────────────────

    def _load(self, bound: _Bound, keys: list[str]) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in bound.cache]
        if not missing:
            return
        raw = self.log.get_states(bound.processor.NAME, missing)
        for k in missing:
            value = raw.get(k)
            bound.cache[k] = None if value is None else bound.processor.decode_state(value)

    def _trim(self, bound: _Bound) -> None:
        while len(bound.cache) > self.cache_size:
            bound.cache.popitem(last=False)

    def _apply(self, bound: _Bound, records: list[Record]) -> None:
        proc = bound.processor
        self._load(bound, [r.key for r in records])
        now = self.clock.now()
        dirty: dict[str, Any] = {}
        timers: dict[str, int | None] = {}
        out: list[Append] = []
        new_positions = Positions(dict(bound.positions.offsets))
        for record in records:
            new_positions.advance(record)
            try:
                event = proc.decode_input(record.value)
                step = traced(proc.on_event(dirty.get(record.key, bound.cache.get(record.key)),
                                            record.key, event, now), event)
            except Exception as exc:  # one bad record never stops the runtime
                out.append(self._dead_letter(bound, record, exc))
                continue
            self._collect(record.key, step, dirty, timers, out)
            received = getattr(event, "received_at", None)
            if isinstance(received, dt.datetime):
                bound.marks[record.partition] = max(bound.marks.get(record.partition, received), received)
        with self.log.transaction() as tx:
            if out:
                tx.append(out)
            self._write(tx, proc, dirty, timers)
            tx.commit_positions(proc.NAME, new_positions)
        bound.positions = new_positions
        bound.cache.update(dirty)
        self._trim(bound)
        bound.stats.events += len(records)
        bound.stats.emitted += sum(1 for a in out if not a.topic.startswith("svu.dlq."))
        bound.stats.batches += 1

    def _fire_timers(self, bound: _Bound) -> int:
        proc = bound.processor
        now = self.clock.now()
        marks, bound.marks = bound.marks, {}
        count = self.log.partitions(proc.INPUTS[0])

        def limit(key: str) -> dt.datetime:
            mark = marks.get(partition_for(key, count)) if marks else None
            return min(now, mark) if mark is not None else now

        due = [(k, d) for k, d in self.log.due_timers(proc.NAME, _ms(now), self.batch_size)
               if d <= _ms(limit(k))]
        if not due:
            return 0
        self._load(bound, [k for k, _ in due])
        dirty: dict[str, Any] = {}
        timers: dict[str, int | None] = {k: None for k, _ in due}
        out: list[Append] = []
        for key, _ in due:
            state = bound.cache.get(key)
            if state is None:
                continue
            try:
                step = proc.on_timer(state, key, limit(key))
            except Exception as exc:
                log.error("processor %s failed on a timer of episode %s: %s",
                          proc.NAME, key, type(exc).__name__)
                bound.stats.failures += 1
                continue
            self._collect(key, step, dirty, timers, out)
        with self.log.transaction() as tx:
            if out:
                tx.append(out)
            self._write(tx, proc, dirty, timers)
        bound.cache.update(dirty)
        bound.stats.timers_fired += len(due)
        bound.stats.emitted += len(out)
        return len(due)

    @staticmethod
    def _collect(key: str, step: Step[Any], dirty: dict[str, Any],
                 timers: dict[str, int | None], out: list[Append]) -> None:
        dirty[key] = step.state
        timers[key] = _ms(step.wake_at) if step.wake_at is not None else None
        for emit in step.emits:
            out.append(Append(emit.topic, emit.key, emit.to_bytes()))

    @staticmethod
    def _write(tx: Any, proc: Processor[Any, Any], dirty: dict[str, Any],
               timers: dict[str, int | None]) -> None:
        if dirty:
            tx.put_states(proc.NAME, [
                (k, None if s is None else proc.encode_state(s)) for k, s in dirty.items()
            ])
        if timers:
            tx.put_timers(proc.NAME, list(timers.items()))

    def _dead_letter(self, bound: _Bound, record: Record, exc: Exception) -> Append:
        bound.stats.failures += 1
        if isinstance(exc, ValidationFailed):
            reason, errors = "invalid event on the log", tuple(exc.errors)
        else:
            # The class name only: an exception's message could quote patient data.
            reason, errors = f"processor {bound.processor.NAME} failed: {type(exc).__name__}", ()
        log.error("%s at %s/%d@%d (episode %s); record moved to the dead-letter topic",
                  reason, record.topic, record.partition, record.offset, record.key)
        return dead_letter(
            f"processor-{bound.processor.NAME}", record.value, errors, self.clock.now(),
            reason=reason, source_message_id=f"{record.topic}/{record.partition}/{record.offset}",
            key=record.key,
        )
