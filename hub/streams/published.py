"""What a processor has already published, for a rebuild that must not publish it again.

``hub replay`` rebuilds state from offset 0. The records a processor had already read before the
rebuild (up to its *published horizon*) produced outputs that are on the log — alerts, deliveries,
statistics — and that others have acted on (a delivery worker sent them). Outputs are
deterministic (event ids are name-based UUIDs of their cause), so the rebuild checks each output
of those records against the log instead of appending it: one found is counted ``verified``
(``differs`` as well when its bytes are not identical), one not found is genuinely new and
appended.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import orjson

from hub.streams.log import Append, Positions, Record
from hub.streams.sqlite_log import SqliteLog


def horizon_name(consumer: str) -> str:
    """The consumer name under which a processor's published horizon is stored."""
    return f"{consumer}.published"


def _digest(value: bytes) -> bytes:
    return hashlib.blake2b(value, digest_size=16).digest()


def _identity(topic: str, key: str, value: bytes) -> tuple[str, str, str]:
    try:
        found = orjson.loads(value)
        ident = str(found["id"]) if isinstance(found, dict) and "id" in found else value.hex()
    except orjson.JSONDecodeError:
        ident = value.hex()
    return topic, key, ident


@dataclass
class VerifyStats:
    """Outputs of a rebuild checked against the log."""

    verified: int = 0
    differs: int = 0
    new: int = 0


@dataclass
class Published:
    """Identities (topic, key, event id) of records on the log, with a digest of their bytes,
    loaded per topic when first asked."""

    log: SqliteLog
    seen: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    values: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)
    stats: VerifyStats = field(default_factory=VerifyStats)

    def _load(self, topic: str) -> None:
        self.loaded.add(topic)
        for p in range(self.log.partitions(topic)):
            offset = 0
            while batch := self.log.read(topic, p, offset, 5000):
                for r in batch:
                    ident = _identity(topic, r.key, r.value)
                    self.seen[ident] += 1
                    self.values.setdefault(ident, _digest(r.value))
                offset = batch[-1].offset + 1

    def filter(self, outputs: list[Append]) -> list[Append]:
        """The outputs that are not on the log yet (the others are counted as verified)."""
        new = []
        for out in outputs:
            if out.topic not in self.loaded:
                self._load(out.topic)
            ident = _identity(out.topic, out.key, out.value)
            if self.seen[ident] > 0:
                self.seen[ident] -= 1
                self.stats.verified += 1
                if self.values.get(ident) != _digest(out.value):
                    self.stats.differs += 1
            else:
                self.stats.new += 1
                new.append(out)
        return new


def below(horizon: Positions, record: Record) -> bool:
    """The record was read before the rebuild: its outputs are already published."""
    return record.offset < horizon.get(record.topic, record.partition)
