"""A /metrics scrape of each Kafka role — worker, MLLP adapter, delivery, API — on librdkafka's
mock cluster: the families each role must export, and no personnummer, name or episode id in
any label."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path

import httpx
import orjson
import pytest

from hub.adapters.hl7.transport import send
from hub.adapters.lifecare.config import LifeCareSettings
from hub.bootstrap import build_processors
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import ApiSettings, EngineSettings, HubSettings, LogSettings
from hub.streams.kafka.app import WorkerApp
from hub.streams.kafka.committer import to_kafka
from hub.streams.kafka.producer import KafkaAppender
from tests.kafka.test_api_role import ADMIN as OPS
from tests.kafka.test_api_role import KEYS, api_role
from tests.kafka.test_delivery_role import _routed, role
from tests.kafka.test_mllp_adapter import running
from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving
from tests.support.hl7 import adt
from tests.support.kafka import MockCluster, wait_for
from tests.support.metrics import DELIVERY, HTTP, PROCESS, SOURCES, assert_families, assert_no_patient_data, families

pytestmark = pytest.mark.slow
START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
NOW = START + dt.timedelta(days=20)
DIRECTORY = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
PATIENT = ["Tolvansson", "Tolvan", "Tolvan Tolvansson"]


def _events() -> list[object]:
    return list(Simulator(start=START, episodes=6, seed=8, bad_share=0.0, span=dt.timedelta(days=5)).events())


def _names(events: list[object]) -> set[str]:
    out: set[str] = set(PATIENT)
    for e in events:
        patient = getattr(getattr(e, "data", None), "patient", None)
        if patient is not None and patient.name:
            out |= {patient.name, *patient.name.split()}
    return out


async def test_worker_scrape(cluster: MockCluster, tmp_path: Path) -> None:
    events = _events()
    port = free_port()
    kafka = cluster.settings(app_id="scrape-worker", data_dir=tmp_path, web_enabled=True,
                             web_host="127.0.0.1", web_port=port)
    async with KafkaAppender(kafka) as appender:
        await appender.append_events(events)
    processors = build_processors(HubSettings(engine=EngineSettings(directory=DIRECTORY)))
    worker = WorkerApp(kafka, processors, FakeClock(NOW))
    await worker.app.start()
    try:
        reading = [a for a in worker.agents if "svu.events" in a.processor.INPUTS]
        await wait_for(lambda: all(a.stats.events >= len(events) for a in reading),
                       describe=lambda: str([a.stats.events for a in worker.agents]))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            text = (await client.get("/metrics")).text
    finally:
        await worker.app.stop()
    assert_families(text, PROCESS | {"svu_hub_processor_lag_records", "svu_hub_processor_events"})
    found = families(text)
    lag = {labels["processor"]: v for _, labels, v in found["svu_hub_processor_lag_records"]}
    assert set(lag) == {p.NAME for p in processors} and all(v >= 0 for v in lag.values())
    handled = {labels["processor"]: v for n, labels, v in found["svu_hub_processor_events"] if n.endswith("_total")}
    assert all(handled[a.processor.NAME] >= len(events) for a in reading)
    assert_no_patient_data(text, _names(events), [e.episode_id for e in events])  # type: ignore[attr-defined]


async def test_mllp_adapter_scrape(cluster: MockCluster, tmp_path: Path) -> None:
    async with running(cluster, tmp_path) as adapter:
        assert adapter.server is not None
        await send("127.0.0.1", adapter.server.port, [adt(control="S1").encode(),
                                                      adt(control="S2", ward="X9^^^NUS").encode()])
        async with httpx.AsyncClient(base_url=adapter.probes_url or "") as client:
            await client.get("/ready")
            text = (await client.get("/metrics")).text
    assert_families(text, PROCESS | HTTP | {"svu_hub_mllp_messages", "svu_hub_mllp_rejected",
                                           "svu_hub_mllp_ack_seconds"})
    found = families(text)
    assert [v for n, _, v in found["svu_hub_mllp_rejected"] if n.endswith("_total")] == [1.0]
    assert {labels["route"] for _, labels, _ in found["svu_hub_http_requests"]} == {"/ready"}
    assert_no_patient_data(text, PATIENT, ["V123456"])


async def test_delivery_role_scrape(cluster: MockCluster, tmp_path: Path) -> None:
    requests = _routed(tmp_path)
    kafka = cluster.settings(app_id="scrape-delivery")
    async with KafkaAppender(kafka) as appender:
        await appender.append([to_kafka(a, "binary") for a in requests])
    fake, port = FakeLifeCare(Behaviour()), free_port()
    lifecare = LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01,
                                backoff_max_s=0.05, timeout_s=2, max_attempts=2)
    settings = HubSettings(kafka=kafka, lifecare=lifecare, api=ApiSettings(host="127.0.0.1", port=0))
    async with serving(fake, port), role(settings) as running_role:
        await wait_for(lambda: len(fake.received) == len(requests))
        async with httpx.AsyncClient(base_url=running_role.probes_url or "") as client:
            await client.get("/health")
            text = (await client.get("/metrics")).text
    assert_families(text, PROCESS | HTTP | DELIVERY)
    found = families(text)
    delivered = [v for n, labels, v in found["svu_hub_delivery_delivered"] if n.endswith("_total")]
    assert delivered == [float(len(requests))]
    circuit = {labels["state"]: v for _, labels, v in found["svu_hub_delivery_circuit_state"]}
    assert circuit == {"closed": 1.0, "open": 0.0, "half_open": 0.0}
    assert [v for _, _, v in found["svu_hub_delivery_oldest_pending_age_seconds"]] == [0.0]
    episodes = [orjson.loads(a.value)["episodeid"] for a in requests]
    assert_no_patient_data(text, PATIENT, episodes)


async def test_api_role_scrape(cluster: MockCluster, tmp_path: Path) -> None:
    events = _events()
    kafka = cluster.settings(app_id="scrape-api", data_dir=tmp_path / "faust")
    async with KafkaAppender(kafka) as appender:
        await appender.append_events(events)
    worker = WorkerApp(kafka, build_processors(HubSettings(engine=EngineSettings(directory=DIRECTORY))),
                       FakeClock(NOW))
    await worker.app.start()
    settings = HubSettings(kafka=kafka, log=LogSettings(path=tmp_path / "mirror.db"),
                           api=ApiSettings(host="127.0.0.1", port=0, keys=KEYS))
    try:
        async with api_role(settings) as api, httpx.AsyncClient(base_url=api.url or "", headers=OPS) as client:
            async def routed() -> bool:
                text = (await client.get("/metrics")).text
                return any(v > 0 for _, _, v in families(text).get("svu_hub_delivery_pending", []))

            await _until(routed)
            text = (await client.get("/metrics")).text
    finally:
        await worker.app.stop()
    assert_families(text, PROCESS | HTTP | DELIVERY | SOURCES | {"svu_hub_processor_lag_records"},
                    with_samples=PROCESS | HTTP | {"svu_hub_delivery_pending",
                                                   "svu_hub_delivery_oldest_pending_age_seconds"})
    assert_no_patient_data(text, _names(events), [e.episode_id for e in events])  # type: ignore[attr-defined]


async def _until(check: object, timeout: float = 120.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("the API's mirror did not show the routed deliveries")
        await asyncio.sleep(0.3)
