"""``hub api`` on librdkafka's mock cluster beside a Faust worker: the API serves what the worker
produced (alerts, episode state from the changelogs, statistics) as the embedded hub does for
the same traffic, and its writes (an inbound Prator message, an alert acknowledgement, audit
records) are on Kafka before the caller is answered."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub, build_processors
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.roles import ApiRole, serve_api
from hub.schemas import topics
from hub.settings import ApiKey, ApiSettings, HubSettings, LogSettings, Role
from hub.streams.kafka import binding
from hub.streams.kafka.app import WorkerApp
from hub.streams.kafka.producer import KafkaAppender
from tests.support.kafka import MockCluster, read_all

pytestmark = pytest.mark.slow
START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 22, 12, tzinfo=dt.UTC)
KEYS = (ApiKey(key=SecretStr("admin"), principal="ops-anna", role=Role.OPS_ADMIN),)
ADMIN = {"Authorization": "Bearer admin"}
EXAMPLE = (Path(__file__).parents[2] / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()


def _embedded(events: list[Any], tmp: Path) -> dict[str, Any]:
    """What the embedded hub's API answers for the same traffic."""
    settings = HubSettings(log=LogSettings(path=tmp / "embedded.db"), api=ApiSettings(keys=KEYS))
    clock = FakeClock(NOW)
    hub = build_hub(settings, clock=clock)
    hub.ingestor.submit_events(events)
    hub.runtime.run_until_idle()
    app = create_app(ApiContext(settings, hub.log, clock, hub.runtime, hub.ingestor, hub.resources))
    with TestClient(app) as client:
        alerts = client.get("/alerts?limit=1000", headers=ADMIN).json()
        episode = alerts[0]["episode_id"]
        out = {"alerts": alerts, "episode": episode,
               "report": client.get(f"/episodes/{episode}", headers=ADMIN).json(),
               "stats": client.get("/stats", headers=ADMIN).json()}
    hub.close()
    return out


@contextlib.asynccontextmanager
async def api_role(settings: HubSettings) -> AsyncIterator[ApiRole]:
    started: asyncio.Future[ApiRole] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_api(settings, clock=FakeClock(NOW), stop=stop,
                                         on_started=started.set_result))
    done, _ = await asyncio.wait({started, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    assert started in done, task.exception() if task.done() else "the API did not start"
    try:
        yield started.result()
    finally:
        stop.set()
        await task


def _comparable(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((a["alert_id"], a["rule"], a["state"], a["level"], a["deadline"], a["raised_at"]) for a in alerts)


async def test_api_on_kafka_serves_the_workers_results_and_writes_to_kafka(
        cluster: MockCluster, tmp_path: Path) -> None:
    events = Simulator(start=START, episodes=12, seed=3, bad_share=0.0, span=dt.timedelta(days=10)).events()
    expected = _embedded(events, tmp_path)
    kafka = cluster.settings(app_id="api-role", data_dir=tmp_path / "faust")
    async with KafkaAppender(kafka) as appender:
        await appender.append_events(events)
    worker = WorkerApp(kafka, build_processors(HubSettings()), FakeClock(NOW))
    await worker.app.start()
    settings = HubSettings(kafka=kafka, log=LogSettings(path=tmp_path / "mirror.db"),
                           api=ApiSettings(host="127.0.0.1", port=0, keys=KEYS))
    try:
        async with api_role(settings) as role, httpx.AsyncClient(base_url=role.url or "", headers=ADMIN) as api:
            async def alerts() -> list[dict[str, Any]]:
                return list((await api.get("/alerts?limit=1000")).json())

            found: list[dict[str, Any]] = []

            async def same_alerts() -> bool:
                found[:] = await alerts()
                return _comparable(found) == _comparable(expected["alerts"])

            await _until(same_alerts, lambda: f"{len(found)} alerts, expected {len(expected['alerts'])}")
            await _until(lambda: _ready(api), lambda: "not ready")
            checks = (await api.get("/ready")).json()["checks"]
            assert checks["mirror"]["ok"] is True and checks["kafka"]["ok"] is True
            episode = expected["episode"]
            report = (await api.get(f"/episodes/{episode}")).json()
            assert report == expected["report"]  # the engine's state, read from its changelog
            await _until(lambda: _same_stats(api, expected["stats"]), lambda: "figures differ")

            # writes: an inbound message, an acknowledgement, and the audit record of the read above
            stored = await api.post("/inbound/prator", content=EXAMPLE, headers={"Content-Type": "application/xml"})
            assert stored.status_code == 202, stored.text
            alert_id = found[0]["alert_id"]
            acked = await api.post(f"/alerts/{alert_id}/acknowledge", json={"note": "ringer avdelningen"})
            assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "ops-anna"
            await asyncio.sleep(0)
            again = (await api.get(f"/alerts/{alert_id}")).json()
            assert again["acknowledged_by"] == "ops-anna"  # still so once the mirror brought it back
    finally:
        await worker.app.stop()

    on_kafka = [binding.decode(binding.KafkaMessage(r.key, r.value, tuple(r.headers)))
                for r in await read_all(cluster.bootstrap, topics.EVENTS)]
    assert stored.json()["event_id"] in {e.id for e in on_kafka}
    kafka_alerts = [orjson.loads(binding.to_structured(r.value, tuple(r.headers)))
                    for r in await read_all(cluster.bootstrap, topics.ALERTS)]
    assert any(a["type"] == "se.svu.alert_acknowledged.v1" and a["data"]["alert_id"] == alert_id
               for a in kafka_alerts)
    audit = [orjson.loads(r.value) for r in await read_all(cluster.bootstrap, topics.AUDIT)]
    assert any(a["episode_id"] == episode and a["principal"] == "ops-anna" for a in audit)


async def _ready(api: httpx.AsyncClient) -> bool:
    return (await api.get("/ready")).status_code == 200


async def _same_stats(api: httpx.AsyncClient, expected: list[dict[str, Any]]) -> bool:
    return bool((await api.get("/stats")).json() == expected)


async def _until(check: Any, describe: Any, timeout: float = 120.0) -> None:
    """Poll an async condition (a hang guard, not a timed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(describe())
        await asyncio.sleep(0.2)

