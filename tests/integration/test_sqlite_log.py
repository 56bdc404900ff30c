"""The embedded log: offsets, keyed partitioning, replay, positions, state, timers, durability."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.errors import LogClosed
from hub.streams.log import Append, Positions, partition_for
from hub.streams.sqlite_log import SqliteLog


def test_offsets_are_dense_per_partition_and_keys_stay_on_one_partition(sqlite_log: SqliteLog) -> None:
    appended = sqlite_log.append([Append("t", f"k{i % 7}", f"v{i}".encode()) for i in range(100)])
    by_partition: dict[int, list[int]] = {}
    for a in appended:
        by_partition.setdefault(a.partition, []).append(a.offset)
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))
    for i, a in enumerate(appended):
        assert a.partition == partition_for(f"k{i % 7}", 4)
    assert sum(sqlite_log.end_offset("t", p) for p in range(4)) == 100
    assert sqlite_log.count("t") == 100


def test_partitioner_matches_kafkas_murmur2() -> None:
    # Known values of Kafka's Java DefaultPartitioner (Utils.toPositive(murmur2(key)) % n).
    from aiokafka.partitioner import murmur2

    java = -973932308  # Java's signed 32-bit result for b"21"
    assert murmur2(b"21") & 0xFFFFFFFF == java & 0xFFFFFFFF
    assert partition_for("21", 1000) == (java & 0x7FFFFFFF) % 1000


def test_read_replays_from_any_offset_in_order(sqlite_log: SqliteLog) -> None:
    sqlite_log.append([Append("t", "same", str(i).encode()) for i in range(10)])
    p = partition_for("same", 4)
    assert [r.value for r in sqlite_log.read("t", p, 0, 100)] == [str(i).encode() for i in range(10)]
    tail = sqlite_log.read("t", p, 7, 100)
    assert [r.offset for r in tail] == [7, 8, 9]
    assert [r.offset for r in sqlite_log.read("t", p, 2, 3)] == [2, 3, 4]
    assert sqlite_log.read("missing", 0, 0, 10) == []


def test_headers_and_timestamps_round_trip(sqlite_log: SqliteLog) -> None:
    sqlite_log.append([Append("t", "k", b"v", headers=(("ce_type", b"x"), ("bin", b"\x00\xff")),
                              timestamp_ms=1234)])
    (rec,) = sqlite_log.read("t", partition_for("k", 4), 0, 1)
    assert rec.headers == (("ce_type", b"x"), ("bin", b"\x00\xff"))
    assert rec.timestamp_ms == 1234


def test_positions_state_and_timers_commit_together(sqlite_log: SqliteLog) -> None:
    with sqlite_log.transaction() as tx:
        tx.append([Append("out", "k", b"1")])
        tx.commit_positions("p", Positions({("in", 2): 5}))
        tx.put_states("p", [("k", b"state"), ("gone", None)])
        tx.put_timers("p", [("k", 1000), ("x", 50)])
    assert sqlite_log.positions("p").get("in", 2) == 5
    assert sqlite_log.get_state("p", "k") == b"state"
    assert sqlite_log.due_timers("p", 999, 10) == [("x", 50)]
    assert sqlite_log.due_timers("p", 1000, 10) == [("x", 50), ("k", 1000)]
    with sqlite_log.transaction() as tx:
        tx.put_timers("p", [("x", None)])
    assert sqlite_log.next_timer("p") == 1000


def test_a_failed_transaction_leaves_nothing(sqlite_log: SqliteLog) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), sqlite_log.transaction() as tx:
        tx.append([Append("new-topic", "k", b"1")])
        tx.commit_positions("p", Positions({("in", 0): 9}))
        tx.put_states("p", [("k", b"s")])
        raise Boom
    assert sqlite_log.count("new-topic") == 0
    assert "new-topic" not in sqlite_log.topics()
    assert sqlite_log.positions("p").get("in", 0) == 0
    assert sqlite_log.get_state("p", "k") is None
    # the topic cache was dropped with the rollback: the topic can be created afresh
    sqlite_log.append([Append("new-topic", "k", b"2")])
    assert sqlite_log.count("new-topic") == 1


def test_reset_forgets_positions_state_and_timers(sqlite_log: SqliteLog) -> None:
    with sqlite_log.transaction() as tx:
        tx.commit_positions("p", Positions({("in", 0): 3}))
        tx.put_states("p", [("k", b"s")])
        tx.put_timers("p", [("k", 1)])
    sqlite_log.reset("p", ["p"])
    assert sqlite_log.positions("p").offsets == {}
    assert sqlite_log.get_state("p", "k") is None
    assert sqlite_log.next_timer("p") is None


def test_defaults_to_wal_and_full_sync(log_path: Path) -> None:
    with SqliteLog(log_path) as log:
        assert log.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_two_connections_share_offsets(log_path: Path) -> None:
    a, b = SqliteLog(log_path), SqliteLog(log_path)
    try:
        a.append([Append("t", "k", b"1")])
        b.append([Append("t", "k", b"2")])
        a.append([Append("t", "k", b"3")])
        p = partition_for("k", 4)
        assert [r.value for r in b.read("t", p, 0, 10)] == [b"1", b"2", b"3"]
        assert [r.offset for r in a.read("t", p, 0, 10)] == [0, 1, 2]
    finally:
        a.close()
        b.close()


def test_partition_count_of_an_existing_topic_wins(sqlite_log: SqliteLog) -> None:
    assert sqlite_log.create_topic("x", 8) == 8
    assert sqlite_log.create_topic("x", 2) == 8
    assert sqlite_log.partitions("x") == 8
    assert sqlite_log.partitions("nope") == 0


def test_closed_log_refuses_use(log_path: Path) -> None:
    log = SqliteLog(log_path)
    log.close()
    with pytest.raises(LogClosed):
        log.append([Append("t", "k", b"v")])


def test_records_are_plain_sqlite_rows(sqlite_log: SqliteLog, log_path: Path) -> None:
    sqlite_log.append([Append("t", "k", b"payload")])
    with sqlite3.connect(log_path) as db:
        assert db.execute("SELECT value FROM records").fetchone()[0] == b"payload"
