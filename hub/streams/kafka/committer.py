"""Group commit on Kafka, for adapters: the same contract as ``hub.streams.appender``'s
GroupCommitter, with Kafka as the durable store.

Concurrent submissions (e.g. several MLLP connections) are gathered into one batch; each work
function runs against a ``KafkaBatch`` that collects its records; the batch is produced with
``acks=all`` and an idempotent producer (``KafkaAppender``); every submitter is answered only
after the brokers acknowledged the whole batch (architecture.md, invariant 1: nothing received
is acknowledged before it is durably stored). If Kafka refuses, every submitter of the batch
gets the error and nothing is acknowledged; the senders re-send, and deterministic event ids
keep the re-send harmless.

Canonical events (on ``svu.events``, and alerts or statuses written by the API and the delivery
workers) are written through the CloudEvents Kafka binding in the configured content mode (binary
by default); other records (raw bytes, dead letters, audit records) go as they are.

Small per-adapter state (``put_states``/``get_state``, e.g. the HL7 duplicate check on
MSH-3/4/10) lives in a bounded in-memory map, applied only once the batch is acknowledged. It
is a fast path, not the guarantee: a re-send reaching another replica, or this one after a
restart, is stored again and dropped downstream by its event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from hub.streams.kafka import binding
from hub.streams.log import Append, Appended

T = TypeVar("T")
PENDING = Appended("", -1, -1)
"""Where a record of a batch will land is known only after the brokers acknowledged it."""


class Producer(Protocol):
    """What the committer needs of ``KafkaAppender``."""

    async def append(self, records: Sequence[Append]) -> list[Appended]: ...


def to_kafka(record: Append, mode: binding.ContentMode) -> Append:
    """A record as it goes to Kafka: a canonical event (a CloudEvent in structured JSON, as the
    embedded log stores it) through the CloudEvents binding; any other record as it is."""
    if record.headers or record.value[:1] != b"{" or b'"specversion"' not in record.value:
        return record
    event = orjson.loads(record.value)
    if not isinstance(event, dict) or "specversion" not in event or "episodeid" not in event:
        return record
    message = binding.encode_object(event, mode)
    return Append(record.topic, record.key, message.value, message.headers, record.timestamp_ms)


class KafkaBatch:
    """The writes of one batch: records to produce and adapter state to apply on success."""

    def __init__(self, memory: BoundedStates) -> None:
        self.records: list[Append] = []
        self.states: list[tuple[str, str, bytes | None]] = []
        self._memory = memory

    def append(self, records: Sequence[Append]) -> list[Appended]:
        self.records.extend(records)
        return [PENDING for _ in records]

    def put_states(self, store: str, items: Sequence[tuple[str, bytes | None]]) -> None:
        self.states.extend((store, k, v) for k, v in items)

    def get_state(self, store: str, key: str) -> bytes | None:
        for s, k, v in reversed(self.states):  # this batch's own writes first
            if s == store and k == key:
                return v
        return self._memory.get(store, key)


class BoundedStates:
    """Least recently written (store, key) → value pairs, at most ``limit`` of them."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, store: str, key: str) -> bytes | None:
        return self._items.get((store, key))

    def put(self, store: str, key: str, value: bytes | None) -> None:
        if value is None:
            self._items.pop((store, key), None)
            return
        self._items[(store, key)] = value
        self._items.move_to_end((store, key))
        while len(self._items) > self.limit:
            self._items.popitem(last=False)


class KafkaCommitter:
    """Runs queued work functions (each given a KafkaBatch) and produces their records together."""

    def __init__(self, producer: Producer, *, mode: binding.ContentMode = "binary",
                 max_batch: int = 256, remember: int = 100_000) -> None:
        self.producer = producer
        self.mode = mode
        self.max_batch = max_batch
        self.memory = BoundedStates(remember)
        self._queue: asyncio.Queue[tuple[Callable[[Any], Any], asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0
        self.failures = 0
        self.failures_in_a_row = 0

    async def submit(self, work: Callable[[Any], T]) -> T:
        """Queue ``work``; returns its result once its records were acknowledged by Kafka."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer(), name="kafka-group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((work, future))
        result: T = await future
        return result

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _writer(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(0)  # let concurrent submitters join this batch
            jobs = [first]
            while len(jobs) < self.max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            await self._commit(jobs)

    async def _commit(self, jobs: list[tuple[Callable[[Any], Any], asyncio.Future[Any]]]) -> None:
        batch = KafkaBatch(self.memory)
        results: list[Any] = []
        try:
            for work, _ in jobs:
                results.append(work(batch))
            if batch.records:
                await self.producer.append([to_kafka(r, self.mode) for r in batch.records])
        except Exception as exc:  # the whole batch failed: nobody is acknowledged
            self.failures += 1
            self.failures_in_a_row += 1
            for _, future in jobs:
                if not future.done():
                    future.set_exception(exc)
            return
        for store, key, value in batch.states:
            self.memory.put(store, key, value)
        self.batches += 1
        self.failures_in_a_row = 0
        self.items += len(jobs)
        for (_, future), result in zip(jobs, results, strict=True):
            if not future.done():
                future.set_result(result)
