"""librdkafka's mock cluster for tests: real Kafka wire protocol on loopback, no broker to install.

Facts (architecture.md, "Testing Kafka here"): topics are auto-created with 4 partitions, there
is no CreateTopics, so workers run with ``declare_topics=False``; produce with the murmur2
partitioner (aiokafka's default) so that keys land where Faust expects them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from hub.settings import KafkaSettings

MOCK_PARTITIONS = 4


class MockCluster:
    """A 3-broker mock cluster living as long as this object."""

    def __init__(self, brokers: int = 3) -> None:
        from confluent_kafka import Producer

        self._handle = Producer({"test.mock.num.brokers": brokers, "log_level": 0})
        metadata = self._handle.list_topics(timeout=10)
        self.bootstrap = tuple(f"{b.host}:{b.port}" for b in metadata.brokers.values())

    def settings(self, **overrides: Any) -> KafkaSettings:
        """Worker settings for this cluster: no topic declaration, short timeouts, no web."""
        base: dict[str, Any] = dict(
            bootstrap_servers=self.bootstrap, declare_topics=False, partitions=MOCK_PARTITIONS,
            replication_factor=1, web_enabled=False, session_timeout_s=6.0,
            heartbeat_interval_s=0.5, rebalance_timeout_s=6.0, timer_interval_s=0.2,
            batch_within_s=0.02)
        base.update(overrides)
        return KafkaSettings(**base)

    def close(self) -> None:
        self._handle.flush(1)


async def produce(bootstrap: Sequence[str], records: Iterable[tuple[str, str, bytes]],
                  headers: Sequence[tuple[str, bytes]] = ()) -> int:
    """(topic, key, value) records, murmur2-partitioned, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=list(bootstrap), acks="all")
    await producer.start()
    n = 0
    try:
        futures = []
        for topic, key, value in records:
            futures.append(await producer.send(topic, value, key=key.encode(), headers=list(headers)))
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


async def read_all(bootstrap: Sequence[str], topic: str, *, timeout: float = 120.0) -> list[Any]:
    """Every record of a topic, from offset 0 to the end offsets seen when called (a hang guard,
    not a time limit: it raises rather than return part of the topic)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=list(bootstrap), enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20,
                                fetch_max_bytes=32 << 20)
    await consumer.start()
    out: list[Any] = []
    try:
        parts = [TopicPartition(topic, p) for p in range(MOCK_PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all([await consumer.position(tp) >= end[tp] for tp in parts]):
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(r for r in records if r.offset < end[TopicPartition(r.topic, r.partition)])
    finally:
        await consumer.stop()
    return out


async def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.1,
                   describe: Any = None) -> None:
    """Poll until ``predicate()`` is true (no timed assertion: a timeout is a hang guard)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"condition not reached: {describe() if describe else ''}")
        await asyncio.sleep(interval)


T0 = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
