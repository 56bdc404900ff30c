"""Canonical events per second through the embedded log and the timeline processor, end to end
(ingest: decode + validate + append durably; process: read, apply, write state and position
durably), against the raw limit of the same bytes (orjson decode + batched SQLite insert with the
same WAL and synchronous settings), measured in the same run."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from pathlib import Path

import orjson

from bench.common import best_of, emit, note, timed
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.domain.timeline import TimelineProcessor
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog

BATCH = 500
START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


def corpus(episodes: int) -> list[bytes]:
    sim = Simulator(start=START, episodes=episodes, seed=1, bad_share=0.0,
                    span=dt.timedelta(days=30))
    return [s.raw for s in sim.traffic()]


def raw_limit(lines: list[bytes], folder: Path) -> float:
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE r (k TEXT, v BLOB)")

    def run() -> None:
        for i in range(0, len(lines), BATCH):
            chunk = lines[i:i + BATCH]
            rows = [(orjson.loads(v)["episodeid"], v) for v in chunk]
            db.execute("BEGIN")
            db.executemany("INSERT INTO r VALUES (?, ?)", rows)
            db.execute("COMMIT")

    seconds, _ = timed(run)
    db.close()
    return len(lines) / seconds


def end_to_end(lines: list[bytes], folder: Path) -> tuple[float, float, float]:
    clock = FakeClock(START)
    log = SqliteLog(folder / "hub.db", durability="full")
    ingestor = Ingestor(log, clock)
    runtime = EmbeddedRuntime(log, [TimelineProcessor()], clock, batch_size=BATCH)

    def ingest() -> None:
        for i in range(0, len(lines), BATCH):
            ingestor.submit("bench", lines[i:i + BATCH])

    t_ingest, _ = timed(ingest)
    t_process, processed = timed(runtime.run_until_idle)
    assert processed == len(lines), (processed, len(lines))
    log.close()
    total = t_ingest + t_process
    return len(lines) / total, len(lines) / t_ingest, len(lines) / t_process


def main(episodes: int = 2000, runs: int = 3) -> None:
    lines = corpus(episodes)
    note(f"foundation: {len(lines)} canonical events of {episodes} episodes, best of {runs}")
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            base = raw_limit(lines, Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            results.append((base, *end_to_end(lines, Path(tmp))))
    base = max(r[0] for r in results)
    e2e, ingest, process = (max(r[i] for r in results) for i in (1, 2, 3))
    emit("raw_limit.orjson_decode_sqlite_insert", base, "events/s", events=len(lines))
    emit("embedded.end_to_end.timeline", e2e, "events/s", base, events=len(lines), goal_ratio=0.25)
    emit("embedded.ingest_only", ingest, "events/s", base)
    emit("embedded.process_only.timeline", process, "events/s", base)


__all__ = ["best_of", "main"]
