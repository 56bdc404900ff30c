"""The log port: an append-only, partitioned, keyed log with offsets and consumer positions.

Two implementations stand behind it: the embedded SQLite log (``sqlite_log``) and Kafka. Records
with the same key land on the same partition (Kafka's murmur2 partitioner, so a key lands on the
same partition number in both), and each partition is ordered by offset.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from aiokafka.partitioner import murmur2


@dataclass(frozen=True, slots=True)
class Record:
    """One record read from the log."""

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Append:
    """One record to append. ``timestamp_ms`` defaults to the log's clock at append."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    """Where an appended record landed."""

    topic: str
    partition: int
    offset: int


@lru_cache(maxsize=131072)
def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the UTF-8 key, positive, modulo the count)."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class Positions:
    """Next offset to read per (topic, partition) for one consumer."""

    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def get(self, topic: str, partition: int) -> int:
        return self.offsets.get((topic, partition), 0)

    def advance(self, record: Record) -> None:
        self.offsets[(record.topic, record.partition)] = record.offset + 1


class LogTransaction(Protocol):
    """Writes that become durable together, or not at all."""

    def append(self, records: Sequence[Append]) -> list[Appended]: ...

    def commit_positions(self, consumer: str, positions: Positions) -> None: ...

    def put_states(self, store: str, items: Sequence[tuple[str, bytes | None]]) -> None:
        """Upsert (key, value) pairs; a None value deletes the key."""

    def put_timers(self, store: str, items: Sequence[tuple[str, int | None]]) -> None:
        """Set each key's next due time in epoch milliseconds; None clears it."""


class Log(Protocol):
    """The log port used by adapters, the runtime and the API's read models."""

    def create_topic(self, topic: str, partitions: int | None = None) -> int: ...

    def partitions(self, topic: str) -> int:
        """Number of partitions; 0 for a topic that does not exist yet."""

    def topics(self) -> list[str]: ...

    def append(self, records: Sequence[Append]) -> list[Appended]:
        """Append in one transaction; durable (per the log's durability setting) on return."""

    def transaction(self) -> AbstractContextManager[LogTransaction]: ...

    def read(self, topic: str, partition: int, offset: int, limit: int) -> list[Record]: ...

    def end_offset(self, topic: str, partition: int) -> int:
        """The offset the next record appended to this partition will get."""

    def positions(self, consumer: str) -> Positions: ...

    def get_state(self, store: str, key: str) -> bytes | None: ...

    def due_timers(self, store: str, until_ms: int, limit: int) -> list[tuple[str, int]]: ...

    def scan_states(self, store: str) -> Iterator[tuple[str, bytes]]: ...

    def reset(self, consumer: str, stores: Sequence[str], *, keep_as: str | None = None) -> None:
        """Forget a consumer's positions, states and timers (for a replay from offset 0); with
        ``keep_as`` the old positions are kept under that name first."""

    def close(self) -> None: ...
