"""`hub run` owns its data file: SIGKILL during deliveries (LifeCare answering slowly, Prator
files) loses none and records none twice; a second `hub run` on the same file refuses; `hub
ingest` beside the running hub only appends, and the running hub gives every output once;
`hub status` shows the running hub's tasks and their states."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path

import orjson
import pytest

from hub.demo.simulator import Simulator
from hub.streams.clock import SystemClock
from hub.streams.ingest import Ingestor
from hub.streams.sqlite_log import SqliteLog
from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))


def _env(db: Path, lifecare: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HUB_LOG__PATH": str(db), "HUB_HL7__ENABLED": "false",
            "HUB_API__PORT": str(free_port()), "HUB_ENGINE__DIRECTORY": str(DIRECTORY),
            "HUB_LIFECARE__ENABLED": "true", "HUB_LIFECARE__BASE_URL": f"http://127.0.0.1:{lifecare}",
            "HUB_LIFECARE__BACKOFF_INITIAL_S": "0.05", "HUB_PRATOR__OUTBOX": str(db.parent / "outbox"),
            "HUB_ENGINE__PATIENT_KEY_SECRET": "a-test-secret"}


def _hub(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _events(start: dt.datetime, episodes: int, seed: int) -> list:  # type: ignore[type-arg]
    return Simulator(start=start, episodes=episodes, seed=seed, bad_share=0).events()


def _records(db: Path, prefix: str) -> list[dict]:
    with SqliteLog(db, read_only=True) as log:
        return [orjson.loads(r.value) for t in log.topics() if t.startswith(prefix)
                for p in range(log.partitions(t)) for r in log.read(t, p, 0, 1_000_000)]


def _requests(db: Path, system: str) -> list[dict]:
    return [e for e in _records(db, f"svu.deliveries.{system}.") if e["type"] == "se.svu.delivery_requested.v1"]


def _delivered(db: Path) -> Counter[str]:
    return Counter(e["data"]["delivery_id"] for e in _records(db, "svu.deliveries.")
                   if e["type"] == "se.svu.delivery_status_changed.v1" and e["data"]["status"] == "delivered")


async def _until(check, what: str, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


def _stop(proc: subprocess.Popen[bytes]) -> bytes:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


async def test_sigkill_during_deliveries_loses_none_and_records_none_twice(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    with SqliteLog(db) as log:
        Ingestor(log, SystemClock()).submit_events(_events(start, 12, 41))
    fake, port = FakeLifeCare(Behaviour(delay_s=0.05, fail_with=[503, 503], retry_after="0")), free_port()
    async with serving(fake, port):
        env = _env(db, port)
        kills = 0
        for _ in range(3):  # three SIGKILLs, each while LifeCare deliveries are under way
            hub = _hub("run", env=env)
            seen = fake.requests
            await _until(lambda seen=seen, hub=hub: fake.requests >= seen + 4 or hub.poll() is not None,
                         "deliveries under way")
            if hub.poll() is not None:
                raise AssertionError(hub.communicate()[1].decode()[-2000:])
            os.kill(hub.pid, signal.SIGKILL)
            hub.communicate(timeout=10)
            kills += 1
        hub = _hub("run", env=env)
        try:
            lifecare, prator = (lambda: _requests(db, "lifecare")), (lambda: _requests(db, "prator"))
            await _until(lambda: lifecare() and {r["data"]["idempotency_key"] for r in lifecare()}
                         <= set(fake.received), "every LifeCare delivery received")
            await _until(lambda: len(_delivered(db)) == len({r["data"]["delivery_id"] for r in
                                                             lifecare() + prator()}), "every delivery recorded")
        finally:
            _stop(hub)
    assert kills == 3
    delivered = _delivered(db)
    assert delivered and max(delivered.values()) == 1, "a delivery was recorded twice"
    keys = {r["data"]["delivery_id"]: r["data"]["idempotency_key"] for r in _requests(db, "lifecare")}
    assert set(keys.values()) == set(fake.received)  # one key per delivery, none lost, none extra
    written = sorted(p.stem for p in (tmp_path / "outbox").rglob("*.xml"))
    assert written == sorted({r["data"]["idempotency_key"] for r in _requests(db, "prator")})


async def test_second_run_refuses_and_ingest_beside_a_running_hub_only_appends(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    feed = _events(start, 12, 7)
    episodes = sorted({e.episode_id for e in feed})
    first = [e for e in feed if e.episode_id in episodes[:6]]  # the running hub's own traffic
    second = [e for e in feed if e.episode_id not in episodes[:6]]  # ingested beside it
    fake, port = FakeLifeCare(), free_port()
    async with serving(fake, port):
        env = _env(db, port)
        with SqliteLog(db) as log:
            Ingestor(log, SystemClock()).submit_events(first)
        hub = _hub("run", env=env)
        try:
            await _until(lambda: bool(_delivered(db)), "the first hub delivers")
            other = _hub("run", env={**env, "HUB_API__PORT": str(free_port())})
            _, err = other.communicate(timeout=60)
            assert other.returncode == 2
            assert b"processed by a running hub" in err and str(hub.pid).encode() in err
            lines = tmp_path / "more.jsonl"
            lines.write_bytes(b"\n".join(e.to_json() for e in second) + b"\n")
            ingest = subprocess.run([sys.executable, "-m", "hub.cli", "ingest", str(lines)], cwd=ROOT, env=env,
                                    capture_output=True, timeout=120, check=False)
            assert ingest.returncode == 0, ingest.stderr.decode()[-2000:]
            assert b"it processes them" in ingest.stderr
            everything = {e.id for e in first + second}

            def done() -> bool:
                with SqliteLog(db, read_only=True) as log:
                    lag = sum(log.end_offset("svu.events", p) - log.positions("engine").get("svu.events", p)
                              for p in range(log.partitions("svu.events")))
                return lag == 0 and len(_delivered(db)) == len({r["data"]["delivery_id"] for r in
                                                                _requests(db, "lifecare") + _requests(db, "prator")})

            await _until(done, "the running hub processed what was ingested beside it")
            status = subprocess.run([sys.executable, "-m", "hub.cli", "status"], cwd=ROOT, env=env,
                                    capture_output=True, timeout=120, check=False)
            table = status.stdout.decode()
            assert f"tasks of hub pid {hub.pid}" in table
            for task in ("processors", "delivery-lifecare", "delivery-prator", "directory"):
                assert any(task in line and "running" in line for line in table.splitlines()), table
        finally:
            _stop(hub)
    stored = Counter(e["id"] for e in _records(db, "svu.events") if e["id"] in everything)
    assert set(stored) == everything and max(stored.values()) == 1
    for prefix in ("svu.alerts", "svu.deliveries.", "svu.stats"):
        ids = Counter(e["id"] for e in _records(db, prefix))
        assert ids and max(ids.values()) == 1, f"an output on {prefix} was published twice"
