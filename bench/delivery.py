"""Deliveries per second through the LifeCare adapter to a fake LifeCare on loopback (real HTTP,
one delivery at a time, status recorded durably after each), against the same number of bare
HTTP POSTs to the same server in the same run."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import httpx

from bench.common import emit, note
from hub.adapters.lifecare.config import LifeCareSettings
from hub.adapters.lifecare.transport import LifeCareClient
from hub.bootstrap import build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import EngineSettings, HubSettings, LogSettings
from hub.streams.delivery import DeliveryWorker
from tests.support.fake_lifecare import FakeLifeCare, free_port, serving

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


async def run(folder: Path) -> tuple[float, float, int]:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(log=LogSettings(path=folder / "hub.db"), engine=EngineSettings(directory=directory))
    hub = build_hub(settings, clock=FakeClock(START + dt.timedelta(days=30)))
    hub.ingestor.submit_events(Simulator(start=START, episodes=150, seed=5, bad_share=0).events())
    hub.runtime.run_until_idle()
    fake, port = FakeLifeCare(), free_port()
    client = LifeCareClient(LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}"))
    try:
        async with serving(fake, port):
            worker = DeliveryWorker(hub.log, client, hub.clock)
            t0 = time.perf_counter()
            while await worker.run_once():
                pass
            seconds = time.perf_counter() - t0
            n = worker.delivered
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as bare:
                t0 = time.perf_counter()
                for i in range(n):
                    await bare.post("/units/U/messages", content=b"{}", headers={"Idempotency-Key": f"bare-{i}"})
                bare_seconds = time.perf_counter() - t0
    finally:
        await client.close()
        hub.close()
    return n / seconds, n / bare_seconds, n


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rate, bare, n = asyncio.run(run(Path(tmp)))
    note(f"delivery: {n} deliveries")
    emit("delivery.http_post_baseline", bare, "requests/s")
    emit("delivery.lifecare_adapter", rate, "deliveries/s", bare, deliveries=n)
