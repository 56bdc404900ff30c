"""The process engine: events per second through the engine on the embedded runtime (the same
events' raw limit measured in the same run), bytes of stored state per open episode, and a
synthetic year of one county (about 12,000 vårdtillfällen) replayed with a simulated clock."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from importlib.resources import files
from pathlib import Path

from bench.common import emit, note, timed
from bench.foundation import raw_limit
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.domain.directory import parse_directory
from hub.domain.engine import EpisodeEngine
from hub.domain.replay import simulate
from hub.domain.rules import builtin_pack
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog

START = dt.datetime(2026, 1, 1, 6, tzinfo=dt.UTC)
COUNTY = "vasterbotten"


def _engine() -> EpisodeEngine:
    text = (files("hub.demo") / "data" / f"directory-{COUNTY}.yaml").read_text(encoding="utf-8")
    directory = parse_directory(text, "demo")
    return EpisodeEngine(builtin_pack(COUNTY), lambda: directory, b"bench")


def through_runtime(lines: list[bytes], folder: Path, end: dt.datetime) -> tuple[float, float, int]:
    """(events/s of the engine on the runtime, mean state bytes per open episode, open episodes)"""
    clock = FakeClock(end)
    log = SqliteLog(folder / "hub.db")
    Ingestor(log, clock).submit("bench", lines)
    runtime = EmbeddedRuntime(log, [_engine()], clock, batch_size=500)
    seconds, _ = timed(runtime.run_until_idle)
    engine = _engine()
    sizes_open = []
    for _, raw in log.scan_states(EpisodeEngine.NAME):
        state = engine.decode_state(raw)
        if not state.is_discharged and not state.is_cancelled:
            sizes_open.append(len(raw))
    log.close()
    events = sum(1 for _ in lines)
    return events / seconds, (sum(sizes_open) / len(sizes_open)) if sizes_open else 0.0, len(sizes_open)


def main(episodes: int = 2000) -> None:
    # Traffic over a month, cut off half-way, so that many episodes are still open.
    sim = Simulator(COUNTY, start=START, episodes=episodes, seed=11, bad_share=0.0,
                    span=dt.timedelta(days=30))
    traffic = sim.traffic()
    end = START + dt.timedelta(days=16)
    lines = [s.raw for s in traffic if s.at <= end]
    note(f"engine: {len(lines)} events of {episodes} episodes up to day 16")
    with tempfile.TemporaryDirectory() as tmp:
        base = raw_limit(lines, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        rate, state_bytes, open_eps = through_runtime(lines, Path(tmp), end)
    emit("raw_limit.orjson_decode_sqlite_insert", base, "events/s", events=len(lines))
    emit("engine.embedded_runtime", rate, "events/s", base, goal=20000)
    emit("engine.state_bytes_per_open_episode", state_bytes, "bytes", None, open_episodes=open_eps,
         goal=2048)

    year = Simulator(COUNTY, start=START, episodes=12_000, seed=12, bad_share=0.0,
                     span=dt.timedelta(days=365))
    t0 = time.perf_counter()
    events = year.events()
    generated = time.perf_counter() - t0
    engine = _engine()
    until = START + dt.timedelta(days=380)
    seconds, result = timed(lambda: simulate(engine, events, until))
    reports = result.reports(engine, until)
    alerts = sum(1 for e in result.emitted if e.topic == "svu.alerts")
    emit("engine.synthetic_year.replay_seconds", seconds, "s", None, episodes=len(reports),
         events=len(events), alert_events=alerts, generate_seconds=round(generated, 1))
    emit("engine.synthetic_year.events_per_second", len(events) / seconds, "events/s", base)
