"""The store refuses and the hub recovers by itself: with a full disk (an injected SQLITE_FULL at
COMMIT) MLLP answers AR and the processors pause with /ready false; once the disk has room the
processors resume without a restart and /ready turns true again. While another process holds
the SQLite write lock, /health answers and MLLP answers AR long before the lock is released, and
the sender's re-send afterwards is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import send
from hub.bootstrap import Hub, build_hub, serve
from hub.schemas import topics
from hub.settings import ApiKey, ApiSettings, HubSettings, LogSettings, Role, RuntimeSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt


class FullDisk:
    """A connection whose COMMIT fails as on a full disk while ``full`` is set."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.full = False

    def execute(self, sql: str, *args: Any) -> Any:
        if self.full and sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@dataclass
class Running:
    hub: Hub
    url: str
    mllp: int
    inputs: FullDisk
    processors: FullDisk


@contextlib.asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), api=ApiSettings(port=0, keys=(ApiKey(key=SecretStr("ops-key"), principal="ops", role=Role.OPS_ADMIN),)),
                           hl7=Hl7Settings(port=0, wards=WARDS),
                           runtime=RuntimeSettings(mode="thread", restart_backoff_s=0.05, max_backoff_s=0.2))
    hub = build_hub(settings, clock=SystemClock())
    inputs, processors = FullDisk(hub.log.db), FullDisk(hub.runtime.log.db)
    hub.log._db, hub.runtime.log._db = inputs, processors  # type: ignore[assignment]
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(hub, on_started=started.set_result, stop=stop))
    url = await asyncio.wait_for(started, 30)
    assert hub.mllp_port is not None
    try:
        yield Running(hub, url, hub.mllp_port, inputs, processors)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        hub.close()


async def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def _msa1(ack: bytes) -> str:
    return next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")[1]


def _controls(hub: Hub) -> list[str]:
    return [orjson.loads(r.value)["sourcemessageid"].split("|")[2]
            for p in range(hub.log.partitions(topics.EVENTS)) for r in hub.log.read(topics.EVENTS, p, 0, 10_000)]


@pytest.mark.slow
async def test_full_disk_pauses_and_processing_resumes_without_a_restart(tmp_path: Path) -> None:
    async with running(tmp_path) as r, httpx.AsyncClient(base_url=r.url, timeout=10) as api:
        async def ready() -> bool:
            return (await api.get("/ready")).status_code == 200

        async def not_ready() -> bool:
            return (await api.get("/ready")).status_code == 503

        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="D1", visit="V1").encode()])
        assert _msa1(ack) == "AA"
        await _until(ready, "ready at start")

        r.inputs.full = r.processors.full = True
        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="D2", visit="V2").encode()])
        assert _msa1(ack) == "AR"  # not stored: the sender keeps it and sends it again

        r.inputs.full = False  # inputs are stored again, the processors' writes still fail
        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="D3", visit="V3").encode()])
        assert _msa1(ack) == "AA"
        await _until(not_ready, "/ready false while the processors cannot write")
        body = (await api.get("/ready")).json()
        assert "processors" in body["checks"]["tasks"]["failing"]
        assert body["checks"]["tasks"]["tasks"]["processors"]["state"] == "paused"
        assert (await api.get("/health")).status_code == 200

        r.processors.full = False  # room on the disk again: nothing is restarted by hand
        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="D2", visit="V2").encode()])
        assert _msa1(ack) == "AA"
        await _until(ready, "/ready true again")
        await _until(lambda: _async(sum(r.hub.runtime.lag().values()) == 0), "processors caught up")
        assert _timeline_keys(r.hub) == 3  # every stored message reached the read model
        assert sorted(_controls(r.hub)) == ["D1", "D2", "D3"]
        metrics = (await api.get("/metrics", headers={"Authorization": "Bearer ops-key"})).text
        assert 'svu_hub_task_store_errors_total{task="processors"}' in metrics


async def _async(value: bool) -> bool:
    return value


def _timeline_keys(hub: Hub) -> int:
    return sum(1 for _ in hub.log.scan_states("timeline"))


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO meta (key, value) VALUES ('held', 'yes')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@pytest.mark.slow
async def test_health_answers_and_mllp_refuses_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    async with running(tmp_path) as r, httpx.AsyncClient(base_url=r.url, timeout=10) as api:
        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="L1", visit="V1").encode()])
        assert _msa1(ack) == "AA"
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(r.hub.log.path), "60"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            health = await api.get("/health")
            (ack,) = await send("127.0.0.1", r.mllp, [adt(control="L2", visit="V2").encode()])
            assert holder.poll() is None, "the lock was released before the hub answered"
            assert health.status_code == 200
            assert _msa1(ack) == "AR"
        finally:
            holder.kill()
            holder.wait(10)
            if holder.stdout is not None:
                holder.stdout.close()
        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="L2", visit="V2").encode()])
        assert _msa1(ack) == "AA"  # the re-send, once the lock is free
        (ack,) = await send("127.0.0.1", r.mllp, [adt(control="L2", visit="V2").encode()])
        assert _msa1(ack) == "AA"  # and again: recognised, stored once
        assert sorted(_controls(r.hub)) == ["L1", "L2"]
