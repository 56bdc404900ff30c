"""Processors as faust-streaming agents: the distributed runtime.

For every processor (the ``Processor`` contract of ``hub.domain.processor``) a worker has:

- an agent over the processor's ``INPUTS``, keyed by episode id (vårdtillfälle), that takes
  events in batches (``stream.take_events``), feeds them in partition order to ``on_event`` with
  ``now`` from the injected clock, and writes each touched key's state once per batch;
- a state table ``<name>-state`` and a timer table ``<name>-timers`` (the key's next due time),
  both recovered from their changelog topics after a restart or a rebalance;
- a periodic tick that fires ``on_timer`` for due keys of the partitions this worker owns, so
  a deadline that came due while no worker ran fires once after the restart (architecture.md,
  invariant 5: timers are state, stored with the episode).

Outputs are produced with the record key = ``Emit.key`` (the episode id), canonical events in
the configured CloudEvents content mode, without waiting for each send: Faust flushes the
producer before it commits the consumed offsets, so a crash re-processes, never loses.

Guarantee: at-least-once. A crash between a flushed output and the offset commit repeats the
output on restart; outputs carry deterministic ids and idempotency keys (``new_event`` derives
the id from source, source message, type and episode), so receivers drop the repeat.
Exactly-once (Kafka transactions) is not used: it cannot be tested on librdkafka's mock cluster.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from hub.domain.clock import Clock
from hub.domain.processor import Emit, Processor, Step
from hub.errors import ValidationFailed
from hub.schemas.envelope import Envelope
from hub.streams.dlq import dead_letter
from hub.streams.kafka import binding
from hub.streams.log import partition_for
from hub.streams.runtime import ProcessorStats
from hub.streams.tracing import traced

log = logging.getLogger(__name__)

OutRecord = tuple[str, bytes, bytes, binding.Headers]
"""(topic, key, value, headers) of one record to produce."""


def output_record(emit: Emit, mode: binding.ContentMode) -> OutRecord:
    """The Kafka record of one processor output: canonical events through the CloudEvents
    binding, any other record of the canonical model as plain JSON."""
    event: Any = emit.event
    if isinstance(event, Envelope):
        message = binding.encode(event, mode)
        return emit.topic, emit.key.encode(), message.value, message.headers
    return (emit.topic, emit.key.encode(), event.model_dump_json().encode(),
            ((binding.CONTENT_TYPE, b"application/json"),))


class EpisodeTable(faust.Table[str, bytes]):
    """A table whose changelog partition is Kafka's default partition of the key (murmur2),
    i.e. the partition of the key's input records. Writes may then happen outside stream
    iteration (the timer tick) and still land on the partition its owner restores."""

    def partition_for_key(self, key: Any) -> int | None:
        return partition_for(str(key), self.partitions)


AgentStats = ProcessorStats
"""Counters of one processor in this worker: the same as the embedded runtime's."""


@dataclass
class ProcessorAgent:
    """One processor wired into a Faust app (state and timer tables, agent, timer tick)."""

    app: Any
    processor: Processor[Any, Any]
    clock: Clock
    mode: binding.ContentMode
    partitions: int
    stats: AgentStats = field(default_factory=AgentStats)
    _cache: dict[str, tuple[bytes, Any]] = field(default_factory=dict)
    _marks: dict[int, dt.datetime] = field(default_factory=dict)
    """Per input partition: the latest receipt time of the events consumed. While a partition
    still has records this worker has not consumed, its timers fire only up to that time, so
    that a worker catching up fires no deadline before the events that precede it (as the
    embedded runtime and a replay do); once caught up, up to the clock."""
    _offsets: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.processor.NAME
        self.state = self._table(f"{name}-state", f"State of processor {name}")
        self.timers = self._table(f"{name}-timers", f"Due times of processor {name}")
        self.topic = self.app.topic(*self.processor.INPUTS, key_type=bytes, value_type=bytes,
                                    key_serializer="raw", value_serializer="raw",
                                    partitions=self.partitions)
        self.batch_size = 1000
        self.batch_within = 0.05

    def _table(self, name: str, help_text: str) -> EpisodeTable:
        table = EpisodeTable(self.app, name=name, default=None, beacon=self.app.tables.beacon,
                             partitions=self.partitions, key_type=str, value_type=bytes,
                             help=help_text)
        self.app.tables.add(table)
        return table

    # ── state ────────────────────────────────────────────────────────────────────────────────

    def _get(self, key: str) -> Any:
        raw = self.state.get(key)
        if raw is None:
            return None
        cached = self._cache.get(key)
        if cached is not None and cached[0] is raw:  # the very bytes this worker wrote
            return cached[1]
        value = self.processor.decode_state(raw)
        self._remember(key, raw, value)
        return value

    def _remember(self, key: str, raw: bytes, value: Any) -> None:
        if len(self._cache) >= 100_000:
            self._cache.clear()
        self._cache[key] = (raw, value)

    def _write(self, dirty: dict[str, Any], timers: dict[str, int | None]) -> None:
        for key, value in dirty.items():
            if value is None:
                self._cache.pop(key, None)
                if key in self.state:
                    del self.state[key]
                continue
            raw = self.processor.encode_state(value)
            self.state[key] = raw
            self._remember(key, raw, value)
        for key, due in timers.items():
            if due is None:
                if key in self.timers:
                    del self.timers[key]
            elif self.timers.get(key) != str(due).encode():
                self.timers[key] = str(due).encode()

    @staticmethod
    def _collect(key: str, step: Step[Any], dirty: dict[str, Any], timers: dict[str, int | None],
                 out: list[Emit]) -> None:
        dirty[key] = step.state
        timers[key] = int(step.wake_at.timestamp() * 1000) if step.wake_at is not None else None
        out.extend(step.emits)

    # ── events ───────────────────────────────────────────────────────────────────────────────

    def apply(self, records: Iterable[tuple[str, bytes, Sequence[tuple[str, bytes]], str]]
              ) -> list[OutRecord]:
        """Apply a batch of (key, value, headers, position) records; write states and timers;
        return the records to produce. Synchronous: no other coroutine sees a half batch."""
        proc = self.processor
        now = self.clock.now()
        dirty: dict[str, Any] = {}
        timers: dict[str, int | None] = {}
        emits: list[Emit] = []
        letters: list[OutRecord] = []
        n = 0
        for key, value, headers, position in records:
            n += 1
            try:
                event = proc.decode_input(binding.to_structured(value, headers))
                state = dirty[key] if key in dirty else self._get(key)
                step = traced(proc.on_event(state, key, event, now), event, proc.NAME)
            except Exception as exc:  # one bad record never stops the worker
                letters.append(self._dead_letter(key, value, position, exc))
                continue
            self._collect(key, step, dirty, timers, emits)
            received = getattr(event, "received_at", None)
            part, offset = (int(x) for x in position.split("/")[-2:])
            self._offsets[part] = max(self._offsets.get(part, offset), offset)
            if isinstance(received, dt.datetime):
                self._marks[part] = max(self._marks.get(part, received), received)
        self._write(dirty, timers)
        self.stats.events += n
        self.stats.batches += 1
        self.stats.emitted += len(emits)
        return [output_record(e, self.mode) for e in emits] + letters

    def _dead_letter(self, key: str, value: bytes, position: str, exc: Exception) -> OutRecord:
        self.stats.failures += 1
        if isinstance(exc, ValidationFailed):
            reason, errors = "invalid event on the log", tuple(exc.errors)
        else:
            # The class name only: an exception's message could quote patient data.
            reason, errors = f"processor {self.processor.NAME} failed: {type(exc).__name__}", ()
        log.error("%s at %s (episode %s); record moved to the dead-letter topic", reason, position, key)
        letter = dead_letter(f"processor-{self.processor.NAME}", value, errors, self.clock.now(),
                             reason=reason, source_message_id=position, key=key)
        return letter.topic, letter.key.encode(), letter.value, ()

    async def run(self, stream: Any) -> None:
        """The agent: batches of events in, outputs out (sends are buffered, not awaited)."""
        send = self.app.producer.send
        async for events in stream.take_events(self.batch_size, within=self.batch_within):
            batch = [(e.key.decode() if isinstance(e.key, bytes) else str(e.key), e.value,
                      _headers(e.headers),
                      f"{e.message.topic}/{e.message.partition}/{e.message.offset}") for e in events]
            for topic, key, value, headers in self.apply(batch):
                await send(topic, key, value, None, None, list(headers))

    # ── timers ───────────────────────────────────────────────────────────────────────────────

    def owned_partitions(self) -> set[int]:
        """Input partitions this worker is the active owner of."""
        topics = set(self.processor.INPUTS)
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic in topics}

    def _input_partitions(self) -> int:
        counted = self.app.consumer.topic_partitions(self.processor.INPUTS[0])
        return int(counted) if counted else self.partitions

    def _behind(self, partition: int) -> bool:
        """Whether this worker has yet to consume records of an input partition."""
        from faust.types import TP

        try:
            high = self.app.consumer.highwater(TP(self.processor.INPUTS[0], partition))
        except Exception:  # no consumer yet, or not assigned: nothing to wait for
            return False
        if high is None:
            return False
        done = self._offsets.get(partition)  # unknown before the first record since start
        return done is not None and done + 1 < high

    def fire_due(self) -> list[OutRecord]:
        """Call ``on_timer`` for every due key of an owned partition; clear or move its timer."""
        if self.app.rebalancing or self.app.in_recovery:
            return []
        owned = self.owned_partitions()
        if not owned:
            return []
        count = self._input_partitions()
        now = self.clock.now()
        never = dt.datetime.min.replace(tzinfo=dt.UTC)
        limits = {p: (min(now, self._marks.get(p, never)) if self._behind(p) else now) for p in owned}
        due = [k for k, v in list(self.timers.items())
               if (p := partition_for(k, count)) in owned and int(v) <= int(limits[p].timestamp() * 1000)]
        dirty: dict[str, Any] = {}
        timers: dict[str, int | None] = {}
        emits: list[Emit] = []
        for key in due:
            timers[key] = None
            state = self._get(key)
            if state is None:
                continue
            try:
                step = self.processor.on_timer(state, key, limits[partition_for(key, count)])
            except Exception as exc:
                log.error("processor %s failed on a timer of episode %s: %s",
                          self.processor.NAME, key, type(exc).__name__)
                self.stats.failures += 1
                continue
            self._collect(key, step, dirty, timers, emits)
        self._write(dirty, timers)
        self.stats.timers_fired += len(due)
        self.stats.emitted += len(emits)
        return [output_record(e, self.mode) for e in emits]

    async def tick(self) -> None:
        """The periodic timer task: fire what is due, and flush so that the outputs and the
        cleared timers reach the brokers together."""
        records = self.fire_due()
        if not records:
            return
        for topic, key, value, headers in records:
            await self.app.producer.send(topic, key, value, None, None, list(headers))
        await self.app.producer.flush()


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in items)


def wire(app: Any, processors: Sequence[Processor[Any, Any]], clock: Clock, *,
         mode: binding.ContentMode, partitions: int, batch_size: int, batch_within: float,
         timer_interval: float) -> list[ProcessorAgent]:
    """Register an agent, its tables and a timer tick per processor on ``app``."""
    agents = []
    for proc in processors:
        agent = ProcessorAgent(app, proc, clock, mode, partitions)
        agent.batch_size, agent.batch_within = batch_size, batch_within
        app.agent(agent.topic, name=f"{proc.NAME}-agent")(_bind(agent.run))
        app.timer(timer_interval, name=f"{proc.NAME}-timers")(_bind_tick(agent.tick))
        agents.append(agent)
    return agents


def _bind(run: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def agent(stream: Any) -> None:
        await run(stream)
    return agent


def _bind_tick(tick: Callable[[], Any]) -> Callable[[], Any]:
    async def timer() -> None:
        await tick()
    return timer
