"""The RocksDB table store (faust-streaming with ``rocksdict``) for episode tables.

Faust's RocksDB store keeps one database per partition and takes the partition of a write from
the stream event being processed. The hub's tables are written in batches (``take_events``)
and by the timer tick, outside any single event, so this store takes the partition from the
table's own partitioner instead (``EpisodeTable.partition_for_key``: Kafka's murmur2 of the
episode id, the partition of the key's input records). Reads go to the same database.
"""

from __future__ import annotations

from typing import Any

from faust.stores import STORES
from faust.stores.rocksdb import Store

SCHEME = "episode-rocksdb"


class EpisodeRocksStore(Store):
    """RocksDB store whose partition for a key comes from the table, not the current event."""

    def _partition(self, key: bytes) -> int:
        partition = self.table.partition_for_key(self._decode_key(key))
        return int(partition) if partition is not None else 0

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._partition(key)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)

    def _get(self, key: bytes) -> Any:
        return self._db_for_partition(self._partition(key)).get(key)

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None


def store_url(url: str) -> str:
    """The store URL to give Faust: ``rocksdb://`` becomes this store; others are kept."""
    if not url.startswith("rocksdb:"):
        return url
    STORES.aliases[SCHEME] = f"{__name__}:EpisodeRocksStore"
    return SCHEME + url[len("rocksdb"):]
