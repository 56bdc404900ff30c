"""The embedded runtime: runs registered processors over the SQLite log.

For each processor it reads a batch of records past its committed position, applies them to the
keyed state, and writes the outputs, the changed states, the timers and the new position in ONE
transaction. A kill at any point therefore leaves either the whole batch or none of it: outputs
are neither lost nor duplicated, and a restart resumes at the committed position.

A record that a processor cannot handle (a bug, or an event the log should never have held) is
moved to ``svu.dlq.processor-<name>`` with the reason, and processing goes on.

In ``hub run`` the runtime works on a thread of its own, on its own connection (``run``): the
MLLP server and the HTTP inbound never wait for the processors, only for their own group commit.
A store error (lock timeout, full disk) raises out of ``run`` for the supervisor, which pauses
and retries; the runtime then reloads its positions and states from the file.

The state cache is bounded in bytes (``cache_bytes``, the encoded size of the states, shared out
over the processors) and evicts the least recently used; a state a processor deletes (an episode
it no longer needs) leaves the cache at once. ``reset`` keeps each processor's old position as
its published horizon (``hub.streams.published``): a rebuild never publishes again what was
already published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
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
from hub.streams.published import Published, VerifyStats, below, horizon_name
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
    horizon: Positions = field(default_factory=Positions)
    cache: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    sizes: dict[str, int] = field(default_factory=dict)
    cache_bytes: int = 0
    stats: ProcessorStats = field(default_factory=ProcessorStats)
    marks: dict[int, dt.datetime] = field(default_factory=dict)
    """Per input partition, the latest receipt time consumed in this pass: while input still
    flows, timers fire only up to it, so a replay or a catch-up fires no deadline before the
    events that precede it; once idle, up to the clock."""

    def forget(self) -> None:
        self.cache.clear()
        self.sizes.clear()
        self.cache_bytes = 0


_ENTRY_OVERHEAD = 200
"""Bytes counted per cached entry beyond its encoded state (key, dict slot, objects)."""


class EmbeddedRuntime:
    """Drives processors over a SqliteLog with an injected clock."""

    def __init__(
        self,
        log: SqliteLog,
        processors: Sequence[Processor[Any, Any]],
        clock: Clock,
        *,
        batch_size: int = 500,
        cache_bytes: int = 64 << 20,
        projections: Sequence[Projection] = (),
        view: SqliteLog | None = None,
    ) -> None:
        self.log = log
        self.view = view or log  # lag() reads through it, so /ready never waits for a batch
        self.clock = clock
        self.batch_size = batch_size
        self.cache_bytes = cache_bytes
        self._bound = [_Bound(p, log.positions(p.NAME), log.positions(horizon_name(p.NAME)))
                       for p in processors]
        self._projections = [(p, log.positions(p.NAME)) for p in projections]
        with log.transaction() as tx:
            for projection in projections:
                projection.create(tx.db)
        self._wakeup = threading.Event()
        self._published: Published | None = None
        self.passes = 0

    @property
    def processors(self) -> list[Processor[Any, Any]]:
        return [b.processor for b in self._bound]

    def stats(self) -> dict[str, ProcessorStats]:
        return {b.processor.NAME: b.stats for b in self._bound}

    @property
    def verify_stats(self) -> VerifyStats:
        """Outputs of a rebuild checked against the log (all zero outside a rebuild)."""
        return self._published.stats if self._published is not None else VerifyStats()

    def cache_usage(self) -> dict[str, tuple[int, int]]:
        """(entries, bytes) of each processor's state cache."""
        return {b.processor.NAME: (len(b.cache), b.cache_bytes) for b in self._bound}

    def lag(self) -> dict[str, int]:
        """Records each processor and projection has yet to read, over all its inputs."""
        out = {}
        view = self.view
        # positions as committed in the file: the processors may run in another thread or process
        readers = [(b.processor.NAME, b.processor.INPUTS, view.positions(b.processor.NAME)) for b in self._bound]
        readers += [(p.NAME, self._inputs(p), view.positions(p.NAME)) for p, _ in self._projections]
        for name, inputs, positions in readers:
            total = 0
            for topic in inputs:
                for p in range(view.partitions(topic)):
                    total += max(0, view.end_offset(topic, p) - positions.get(topic, p))
            out[name] = total
        return out

    def _inputs(self, projection: Projection) -> tuple[str, ...]:
        if not projection.PREFIXES:
            return projection.INPUTS
        return (*projection.INPUTS, *[t for t in self.view.topics() if t.startswith(projection.PREFIXES)])

    def reset(self) -> None:
        """Forget every processor's position, state and timers: the next pass replays the log
        from offset 0 and rebuilds the same state (processing is deterministic). The old
        position is kept as the published horizon: outputs of records below it are verified
        against the log, not appended again."""
        for bound in self._bound:
            name = bound.processor.NAME
            self.log.reset(name, [name], keep_as=horizon_name(name))
            bound.positions = Positions()
            bound.horizon = self.log.positions(horizon_name(name))
            bound.forget()
        for i, (projection, _) in enumerate(self._projections):
            self.log.reset(projection.NAME, [])
            with self.log.transaction() as tx:
                projection.clear(tx.db)
            self._projections[i] = (projection, Positions())

    def notify(self) -> None:
        """Wake the runtime: new records were appended (callable from any thread)."""
        self._wakeup.set()

    def reload(self) -> None:
        """Positions and horizons from the file, and an empty cache (after a failure)."""
        for bound in self._bound:
            bound.positions = self.log.positions(bound.processor.NAME)
            bound.horizon = self.log.positions(horizon_name(bound.processor.NAME))
            bound.forget()
        self._projections = [(p, self.log.positions(p.NAME)) for p, _ in self._projections]

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
        """Run on a thread of its own until ``stop`` is set; sleeps while idle, wakes early on
        notify(). An exception (a store error included) ends the run for the supervisor."""
        done = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def finish(exc: BaseException | None) -> None:
            if not done.done():
                done.set_exception(exc) if exc is not None else done.set_result(None)

        def work() -> None:
            try:
                self.reload()
                while not stop.is_set():
                    self._wakeup.clear()
                    if self.run_once() == 0:
                        self._wakeup.wait(idle_sleep)
                loop.call_soon_threadsafe(finish, None)
            except BaseException as exc:  # handed to the supervisor on the loop
                loop.call_soon_threadsafe(finish, exc)

        def on_stop() -> None:
            self._wakeup.set()

        waiter = asyncio.ensure_future(stop.wait())
        waiter.add_done_callback(lambda _: on_stop())
        threading.Thread(target=work, name="processors", daemon=True).start()
        try:
            await done
        finally:
            waiter.cancel()

    # ── internals ───────────────────────────────────────────────────────────────────────────

    def _load(self, bound: _Bound, keys: list[str]) -> None:
        missing = []
        for k in dict.fromkeys(keys):
            if k in bound.cache:
                bound.cache.move_to_end(k)
            else:
                missing.append(k)
        if not missing:
            return
        raw = self.log.get_states(bound.processor.NAME, missing)
        for k in missing:
            value = raw.get(k)
            self._cache(bound, k, None if value is None else bound.processor.decode_state(value),
                        len(value) if value is not None else 0)

    @staticmethod
    def _cache(bound: _Bound, key: str, state: Any, size: int) -> None:
        bound.cache_bytes += size + _ENTRY_OVERHEAD - bound.sizes.get(key, 0)
        bound.sizes[key] = size + _ENTRY_OVERHEAD
        bound.cache[key] = state
        bound.cache.move_to_end(key)

    def _remember(self, bound: _Bound, dirty: dict[str, Any], sizes: dict[str, int]) -> None:
        for key, state in dirty.items():
            if state is None:  # deleted: nothing to keep
                bound.cache.pop(key, None)
                bound.cache_bytes -= bound.sizes.pop(key, 0)
            else:
                self._cache(bound, key, state, sizes.get(key, 0))
        self._trim(bound)

    def _trim(self, bound: _Bound) -> None:
        limit = self.cache_bytes // max(1, len(self._bound))
        while bound.cache_bytes > limit and bound.cache:
            key, _ = bound.cache.popitem(last=False)
            bound.cache_bytes -= bound.sizes.pop(key, 0)

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
            mine: list[Append] = []
            try:
                event = proc.decode_input(record.value)
                step = traced(proc.on_event(dirty.get(record.key, bound.cache.get(record.key)),
                                            record.key, event, now), event, proc.NAME)
            except Exception as exc:  # one bad record never stops the runtime
                mine.append(self._dead_letter(bound, record, exc))
            else:
                self._collect(record.key, step, dirty, timers, mine)
                received = getattr(event, "received_at", None)
                if isinstance(received, dt.datetime):
                    bound.marks[record.partition] = max(bound.marks.get(record.partition, received), received)
            out += self._unpublished(mine) if below(bound.horizon, record) else mine
        sizes = self._commit(bound, out, dirty, timers, new_positions)
        bound.positions = new_positions
        self._remember(bound, dirty, sizes)
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
        if bound.horizon.offsets:  # after a rebuild, a due timer may have fired before it
            out = self._unpublished(out)
        sizes = self._commit(bound, out, dirty, timers, None)
        self._remember(bound, dirty, sizes)
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

    def _unpublished(self, outputs: list[Append]) -> list[Append]:
        if not outputs:
            return outputs
        if self._published is None:
            self._published = Published(self.log)
        return self._published.filter(outputs)

    def _commit(self, bound: _Bound, out: list[Append], dirty: dict[str, Any],
                timers: dict[str, int | None], positions: Positions | None) -> dict[str, int]:
        """Outputs, states, timers (and the position) in one transaction; the encoded sizes of
        the states. On failure the cache is dropped: states come back from the file."""
        proc = bound.processor
        encoded = [(k, None if s is None else proc.encode_state(s)) for k, s in dirty.items()]
        try:
            with self.log.transaction() as tx:
                if out:
                    tx.append(out)
                if encoded:
                    tx.put_states(proc.NAME, encoded)
                if timers:
                    tx.put_timers(proc.NAME, list(timers.items()))
                if positions is not None:
                    tx.commit_positions(proc.NAME, positions)
        except BaseException:
            bound.forget()
            raise
        return {k: len(v) for k, v in encoded if v is not None}

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
