"""The inbound door: kommun messages per second through ``Door.admit`` (parse, the claims
checked against the unit directory and the episode's parties, durable append, one message per
transaction) against the same events appended directly, with 10,000 episodes known."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

import orjson

from bench.common import best_of, emit, note
from hub.adapters.kommun.mapping import KommunMapping
from hub.api.inbound import kommun_parser
from hub.domain.clock import FakeClock
from hub.domain.directory import parse_directory
from hub.schemas import topics
from hub.streams.audit import AuditTrail
from hub.streams.door import Door, Sender
from hub.streams.log import Append
from hub.streams.projections import EpisodePartiesProjection
from hub.streams.sqlite_log import SqliteLog
from tests.samples import SOC
from tests.support.trust import DIRECTORY

NOW = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)
EPISODES = 10_000
MESSAGES = 2_000


def _log(folder: Path) -> SqliteLog:
    log = SqliteLog(folder / "door.db", durability="normal")
    with log.transaction() as tx:
        EpisodePartiesProjection().create(tx.db)
        tx.db.executemany("INSERT INTO episode_parties VALUES (?, 'folkbokford', '2480')",
                          [(f"VLL-2026-{i:06d}",) for i in range(EPISODES)])
    return log


def _bodies() -> list[bytes]:
    return [orjson.dumps({"type": "kvittering", "message_id": f"K-{i}", "episode_id": f"VLL-2026-{i % EPISODES:06d}",
                          "unit": SOC, "time": "2026-03-02T10:00:00+01:00", "acknowledged_message": "N1"})
            for i in range(MESSAGES)]


def main() -> None:
    directory = parse_directory(DIRECTORY, "bench")
    bodies = _bodies()
    sender = Sender("umea", "kommun", "kommun:2480", "bench")
    parse = kommun_parser(KommunMapping(), "2480", csv=False)
    clock = FakeClock(NOW)

    def through_door() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            log = _log(Path(tmp))
            door = Door(log, clock, lambda: directory, AuditTrail(log, clock, b"bench"))
            t0 = time.perf_counter()
            for body in bodies:
                door.admit(sender, "kommun-2480", body, parse, endpoint="bench")
            rate = len(bodies) / (time.perf_counter() - t0)
            log.close()
            return rate

    def direct() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            log = _log(Path(tmp))
            t0 = time.perf_counter()
            for body in bodies:
                events = [e for _, e in parse(body, NOW)]
                log.append([Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events])
            rate = len(bodies) / (time.perf_counter() - t0)
            log.close()
            return rate

    note(f"door: {MESSAGES} kommun kvitteringar, {EPISODES} episodes known")
    baseline = best_of(3, direct)
    emit("door_admit_rate", best_of(3, through_door), "msg/s", baseline)
