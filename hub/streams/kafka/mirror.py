"""The API's view of a Kafka deployment: a local SQLite mirror of the cluster, and writes that go
to the cluster first.

- ``KafkaMirror`` copies the topics the API reads (alerts, deliveries, dead letters, ops actions,
  statistics, audit; by default every ``svu.*`` topic but the raw bytes and the event stream) into
  a local ``SqliteLog`` at the **same partitions and offsets**, and the processors' state
  changelogs (``<app_id>-<processor>-state-changelog``) into the local state store of that
  processor. Each batch and the mirror's positions are written in one transaction, so a restart
  resumes where it stopped. The mirror is a cache: deleting the file rebuilds it from Kafka.
- ``MirroredLog`` is that local log with one difference: every ``append`` goes to Kafka
  (``acks=all``, through ``ThreadedAppender``) and returns Kafka's partition and offset; the
  record reaches the local file through the mirror, at that very position. A caller therefore
  gets its 2xx only after Kafka has the record (architecture.md, invariant 1), and an API pod
  keeps no data that is not on the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from hub.errors import TransportError
from hub.settings import KafkaSettings
from hub.streams.kafka import binding
from hub.streams.kafka.committer import to_kafka
from hub.streams.kafka.config import client_kwargs
from hub.streams.kafka.producer import KafkaAppender, start_with_retry
from hub.streams.log import Append, Appended, Positions, Record
from hub.streams.sqlite_log import SqliteLog, _Transaction

log = logging.getLogger(__name__)

CONSUMER = "kafka-mirror"
DEFAULT_TOPICS = r"^svu\.(?!raw\.|events$)"
"""Every hub topic the API reads: not the raw bytes, not the canonical event stream."""


def changelog(app_id: str, processor: str) -> str:
    """The changelog topic of a processor's state table in the Faust worker."""
    return f"{app_id}-{processor}-state-changelog"


class ThreadedAppender:
    """``KafkaAppender`` on its own event-loop thread, for synchronous callers (the API's writes
    happen inside SQLite transactions and threadpool handlers). Connects in the background with
    back-off; ``append`` raises TransportError while not connected or when Kafka does not ack."""

    def __init__(self, settings: KafkaSettings, *, timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._appender: KafkaAppender | None = None  # made on its own loop (aiokafka binds to it)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kafka-appender", daemon=True)
        self._stop: asyncio.Event | None = None
        self._connecting: Any = None

    @property
    def started(self) -> bool:
        return self._appender is not None and self._appender.started

    def start(self) -> None:
        self._thread.start()

        async def connect() -> None:
            self._stop = asyncio.Event()
            self._appender = KafkaAppender(self.settings)
            await start_with_retry(self._appender.start, self._stop)

        self._connecting = asyncio.run_coroutine_threadsafe(connect(), self._loop)

    def append(self, records: Sequence[Append]) -> list[Appended]:
        appender = self._appender
        if appender is None or not appender.started:
            raise TransportError("Kafka is not connected yet", retry_after=2.0)
        kafka = [to_kafka(r, self.settings.content_mode) for r in records]
        future = asyncio.run_coroutine_threadsafe(appender.append(kafka), self._loop)
        try:
            return future.result(self.timeout_s)
        except FutureTimeout:
            future.cancel()
            raise TransportError("Kafka did not acknowledge in time", retry_after=2.0) from None

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._stop is not None:
                self._stop.set()
            if self._appender is not None:
                await self._appender.stop()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


Forward = Callable[[Sequence[Append]], list[Appended]]


class _ForwardingTransaction(_Transaction):
    """A local transaction whose appends go to Kafka (and come back through the mirror)."""

    def __init__(self, log: SqliteLog, forward: Forward) -> None:
        super().__init__(log)
        self._forward = forward

    def append(self, records: Sequence[Append]) -> list[Appended]:
        return self._forward(records) if records else []


class MirroredLog(SqliteLog):
    """The local mirror of a Kafka cluster, whose appends are written to Kafka."""

    def __init__(self, path: Any, forward: Forward, **options: Any) -> None:
        super().__init__(path, **options)
        self._forward = forward

    def transaction(self) -> AbstractContextManager[_Transaction]:
        forward = self._forward
        return self._begin(lambda log: _ForwardingTransaction(log, forward))

    def local_transaction(self) -> AbstractContextManager[_Transaction]:
        """A transaction on the local file only (the mirror's own writes)."""
        return self._begin(_Transaction)


class KafkaMirror:
    """Copies topics and state changelogs from Kafka into a local log, resumable."""

    def __init__(self, settings: KafkaSettings, log: MirroredLog, *, changelogs: Mapping[str, str],
                 topics: str = DEFAULT_TOPICS, on_written: Callable[[], None] = lambda: None,
                 refresh_s: float = 5.0, max_records: int = 5000) -> None:
        self.settings = settings
        self.log = log
        self.changelogs = dict(changelogs)  # changelog topic → local state store
        self.pattern = re.compile(topics)
        self.on_written = on_written
        self.refresh_s = refresh_s
        self.max_records = max_records
        self.positions = log.positions(CONSUMER)
        self.assigned: set[TopicPartition] = set()
        self.caught_up = False
        self.records = 0
        self._targets: dict[TopicPartition, int] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def wanted(self, topic: str) -> bool:
        return topic in self.changelogs or bool(self.pattern.search(topic))

    def lag(self) -> int:
        """Records on Kafka not yet in the mirror (over the partitions seen so far)."""
        consumer = self._consumer
        if consumer is None:
            return 0
        total = 0
        for tp in self.assigned:
            high = consumer.highwater(tp)
            if high is not None:
                total += max(0, high - self.positions.get(tp.topic, tp.partition))
        return total

    def check(self) -> dict[str, Any]:
        """Readiness: connected and caught up with what Kafka held when the mirror started."""
        return {"ok": self._consumer is not None and self.caught_up, "lag": self.lag(),
                "partitions": len(self.assigned)}

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(**client_kwargs(self.settings), group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20)

        async def start() -> None:
            try:
                await consumer.start()
            except KafkaError as exc:
                raise TransportError(f"Kafka unreachable: {type(exc).__name__}", retry_after=1.0) from None

        if not await start_with_retry(start, stop):
            return
        self._consumer = consumer
        try:
            loop = asyncio.get_running_loop()
            next_refresh = 0.0
            while not stop.is_set():
                if loop.time() >= next_refresh:
                    await self._refresh(consumer)
                    next_refresh = loop.time() + self.refresh_s
                batch = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                if batch:
                    self._write(batch)
                    self.on_written()
                self._check_caught_up()
        finally:
            self._consumer = None
            await consumer.stop()

    async def _refresh(self, consumer: AIOKafkaConsumer) -> None:
        """Find new topics and partitions; assign them and seek to the mirrored positions."""
        # One metadata request for all topics; the consumer's own cache holds assigned topics only.
        cluster = await consumer._client.fetch_all_metadata()
        found: set[TopicPartition] = set()
        for topic in sorted(t for t in cluster.topics() if self.wanted(t)):
            parts = cluster.partitions_for_topic(topic) or set()
            if not parts:
                continue
            if topic not in self.changelogs:
                self.log.mirror_topic(topic, len(parts))
            found |= {TopicPartition(topic, p) for p in parts}
        if found == self.assigned and self._targets is not None:
            return
        consumer.assign(sorted(found))
        for tp in found:
            position = self.positions.get(tp.topic, tp.partition)
            if position:
                consumer.seek(tp, position)
            else:
                await consumer.seek_to_beginning(tp)
        new = found - self.assigned
        self.assigned = found
        if self._targets is None or new:
            ends = await consumer.end_offsets(sorted(new if self._targets is not None else found))
            self._targets = {**(self._targets or {}), **ends}

    def _check_caught_up(self) -> None:
        if self.caught_up or self._targets is None:
            return
        self.caught_up = all(self.positions.get(tp.topic, tp.partition) >= end
                             for tp, end in self._targets.items())

    def _write(self, batch: Mapping[TopicPartition, Sequence[Any]]) -> None:
        records: list[Record] = []
        states: dict[str, list[tuple[str, bytes | None]]] = {}
        new = Positions(dict(self.positions.offsets))
        for tp, messages in batch.items():
            store = self.changelogs.get(tp.topic)
            for m in messages:
                key = m.key.decode("utf-8", "replace") if m.key is not None else ""
                if store is not None:
                    states.setdefault(store, []).append((_table_key(m.key), m.value))
                else:
                    headers = tuple((k, bytes(v or b"")) for k, v in m.headers)
                    value = binding.to_structured(m.value, headers) if binding.is_binary(headers) else m.value
                    records.append(Record(tp.topic, tp.partition, m.offset, key, value or b"",
                                          m.timestamp, headers))
                new.offsets[(tp.topic, tp.partition)] = m.offset + 1
        with self.log.local_transaction() as tx:
            tx.put_records(records)
            for store, items in states.items():
                tx.put_states(store, items)
            tx.commit_positions(CONSUMER, new)
        self.positions = new
        self.records += sum(len(v) for v in batch.values())


def _table_key(raw: bytes | None) -> str:
    """A Faust table key as the processor knows it: Faust writes ``str`` keys as JSON strings."""
    if raw is None:
        return ""
    if raw[:1] == b'"':
        with contextlib.suppress(orjson.JSONDecodeError):
            loaded = orjson.loads(raw)
            if isinstance(loaded, str):
                return loaded
    return raw.decode("utf-8", "replace")


def stores(app_id: str, processors: Sequence[str]) -> dict[str, str]:
    """Changelog topic → local state store, for the named processors."""
    return {changelog(app_id, name): name for name in processors}
