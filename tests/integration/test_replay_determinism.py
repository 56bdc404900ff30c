"""Deterministic to the byte: events arriving over time through the embedded runtime (a fake
clock set to each arrival, timers firing between them) and a replay of the same log later, in
one pass, give identical read models — every time in them comes from the facts."""

from __future__ import annotations

import datetime as dt
import sqlite3
from importlib.resources import files
from pathlib import Path

from hub.bootstrap import Hub, build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import EngineSettings, HubSettings, LogSettings, RuntimeSettings

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
END = START + dt.timedelta(days=40)
TABLES = ("alerts", "deliveries", "dead_letters")


def _hub(path: Path, clock: FakeClock, batch: int = 500) -> Hub:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    return build_hub(HubSettings(log=LogSettings(path=path), engine=EngineSettings(directory=directory),
                                 runtime=RuntimeSettings(batch_size=batch)), clock=clock)


def _read_models(hub: Hub, path: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    db = sqlite3.connect(path)
    for table in TABLES:
        out[table] = db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    db.close()
    for name in ("stats", "timeline"):
        out[name] = sorted(hub.log.scan_states(name))
    for topic in (topics.ALERTS,):
        out[topic] = sorted(r.value for p in range(hub.log.partitions(topic))
                            for r in hub.log.read(topic, p, 0, 1_000_000))
    return out


def test_a_live_run_and_a_replay_of_its_log_give_identical_read_models(tmp_path: Path) -> None:
    events = sorted(Simulator(start=START, episodes=16, seed=7, bad_share=0.1).events(),
                    key=lambda e: e.received_at)
    clock = FakeClock(START)
    live = _hub(tmp_path / "live.db", clock)
    for event in events:  # live: one arrival at a time, timers firing in between
        clock.set(max(clock.now(), event.received_at))
        live.ingestor.submit_events([event])
        live.runtime.run_until_idle()
    for _ in range(40 * 24):
        clock.advance(dt.timedelta(hours=1))
        live.runtime.run_until_idle()
    live_models = _read_models(live, tmp_path / "live.db")
    live.close()

    assert live_models["alerts"], "the scenario must raise alerts"
    assert "resolved" in str(live_models["alerts"])
    # the same log later: in one pass, and in many small batches with timers between them
    for batch in (500, 7):
        path = tmp_path / f"replay-{batch}.db"
        replay = _hub(path, FakeClock(END + dt.timedelta(days=3)), batch)
        replay.ingestor.submit_events(events)
        replay.runtime.run_until_idle()
        replay_models = _read_models(replay, path)
        replay.close()
        for name, value in live_models.items():
            assert replay_models[name] == value, (batch, name)
