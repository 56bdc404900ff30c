"""The worker's probe server: /health answers while the process lives, /ready once the worker
holds its partitions and is not restoring tables (the Helm chart's liveness/readiness probes)."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import httpx

from hub.domain.clock import FakeClock
from hub.domain.timeline import TimelineProcessor
from hub.streams.kafka.app import WorkerApp
from tests.support.kafka import MockCluster, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_health_and_ready(cluster: MockCluster, tmp_path: Path) -> None:
    port = _free_port()
    settings = cluster.settings(app_id="probes", data_dir=tmp_path, web_enabled=True,
                                web_host="127.0.0.1", web_port=port)
    worker = WorkerApp(settings, [TimelineProcessor()], FakeClock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC)))
    assert not worker.ready()
    await worker.app.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/health")).json() == {"status": "ok"}
            await wait_for(lambda: worker.ready() and worker.agents[0].owned_partitions())
            ready = await client.get("/ready")
            assert ready.status_code == 200 and ready.json() == {"ready": True}
    finally:
        await worker.app.stop()
