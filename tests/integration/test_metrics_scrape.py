"""The embedded hub's /metrics: process and HTTP metrics, deliveries per system with their
circuit, dead letters and held messages per source, processor lag; conventional names and no
patient data in any label."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.adapters.lifecare.transport import Breaker
from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role
from hub.streams.metrics import ReadModelCollector
from tests.support.metrics import DELIVERY, HTTP, PROCESS, SOURCES, assert_families, assert_no_patient_data, families

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
NOW = START + dt.timedelta(days=3)
KEYS = (ApiKey(key=SecretStr("admin"), principal="ops-anna", role=Role.OPS_ADMIN),)


def test_embedded_scrape(tmp_path: Path) -> None:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), api=ApiSettings(keys=KEYS),
                           engine=EngineSettings(directory=directory))
    hub = build_hub(settings, clock=FakeClock(NOW))
    sim = Simulator(start=START, episodes=6, seed=4, bad_share=0.3)
    traffic = sim.traffic()
    hub.ingestor.submit("file", [s.raw for s in traffic])
    hub.runtime.run_until_idle()
    breaker = Breaker(threshold=1, cooldown=60)
    breaker.failure()  # the circuit to LifeCare is open
    ctx = ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor, hub.resources,
                     collectors=[ReadModelCollector(hub.log, {"lifecare": breaker}, now=lambda: NOW)])
    episode = traffic[0].episode_id
    with TestClient(create_app(ctx)) as client:
        client.get(f"/episodes/{episode}/timeline", headers={"Authorization": "Bearer admin"})
        client.get("/health")
        text = client.get("/metrics", headers={"Authorization": "Bearer admin"}).text
    hub.close()
    assert_families(text, PROCESS | HTTP | DELIVERY | SOURCES | {"svu_hub_processor_lag_records"},
                    with_samples=PROCESS | HTTP | DELIVERY | {"svu_hub_dead_letters_received",
                                                              "svu_hub_processor_lag_records"})
    found = families(text)
    routes = {labels["route"] for _, labels, _ in found["svu_hub_http_requests"]}
    assert "/episodes/{episode_id}/timeline" in routes and "/health" in routes  # templates, not paths
    circuit = {(labels["system"], labels["state"]): v for _, labels, v in found["svu_hub_delivery_circuit_state"]}
    assert circuit[("lifecare", "open")] == 1.0 and circuit[("lifecare", "closed")] == 0.0
    pending = {labels["system"]: v for _, labels, v in found["svu_hub_delivery_pending"]}
    assert sum(pending.values()) > 0  # the engine routed deliveries nobody delivered yet
    ages = {labels["system"]: v for _, labels, v in found["svu_hub_delivery_oldest_pending_age_seconds"]}
    assert max(ages.values()) > 0
    letters = {labels["source"]: v for _, labels, v in found["svu_hub_dead_letters_received"]}
    assert letters.get("file", 0) > 0  # the simulator's bad share
    assert_no_patient_data(text, names=_names(s.raw for s in traffic), episodes=[s.episode_id for s in traffic])


def _names(raws: Iterable[bytes]) -> set[str]:
    out = set()
    for raw in raws:
        with contextlib.suppress(Exception):
            name = orjson.loads(raw)["data"]["patient"]["name"]
            out |= {name, *name.split()}
    assert out
    return out
