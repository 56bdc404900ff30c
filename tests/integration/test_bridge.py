"""The bridge made visible, over real HTTP to a fake LifeCare on loopback: counts per system and
unit, the stuck-delivery alert and metric (raised past the configured time, resolved once
delivered), the open-circuit alert, and a resend that reaches the receiver with the same
idempotency key."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from importlib.resources import files
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.adapters.lifecare.config import LifeCareSettings
from hub.adapters.lifecare.transport import LifeCareClient
from hub.api.app import ApiContext, create_app
from hub.bootstrap import Hub, build_hub
from hub.demo.fake_lifecare import FakeLifeCare, serving
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import ApiKey, ApiSettings, BridgeSettings, EngineSettings, HubSettings, LogSettings, Role
from hub.streams.bridge import BridgeMonitor
from hub.streams.delivery import DeliveryWorker

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
ADMIN = {"Authorization": "Bearer admin"}
REGION = {"Authorization": "Bearer region"}


def _hub(tmp_path: Path) -> tuple[Hub, FakeClock]:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(
        log=LogSettings(path=tmp_path / "hub.db"), engine=EngineSettings(directory=directory),
        bridge=BridgeSettings(stuck_after_s=3600),
        api=ApiSettings(keys=(ApiKey(key=SecretStr("admin"), principal="ops-anna", role=Role.OPS_ADMIN),
                              ApiKey(key=SecretStr("region"), principal="region", role=Role.REGION))))
    clock = FakeClock(START + dt.timedelta(days=30))
    hub = build_hub(settings, clock=clock)
    hub.ingestor.submit_events(Simulator(start=START, episodes=6, seed=21, bad_share=0).events())
    hub.runtime.run_until_idle()
    return hub, clock


def _metric(text: str, name: str, system: str) -> float:
    found = re.search(rf'^{name}\{{system="{system}"\}} (\S+)$', text, re.M)
    assert found, f"{name} for {system} missing"
    return float(found.group(1))


def _open(hub: Hub, rule: str) -> list[dict]:
    return hub.log.query("SELECT * FROM alerts WHERE rule = ? AND state = 'open'", (rule,))


def test_stuck_deliveries_raise_an_alert_and_a_metric_and_resolve_when_delivered(tmp_path: Path) -> None:
    hub, clock = _hub(tmp_path)
    circuit = {"lifecare": "closed"}
    ctx = ApiContext(hub.settings, hub.log, clock, hub.runtime, hub.ingestor, hub.resources,
                     circuits={"lifecare": lambda: circuit["lifecare"]})
    client = TestClient(create_app(ctx))
    monitor = BridgeMonitor(hub.log, clock, dt.timedelta(hours=1), ctx.circuits)
    pending = hub.log.query("SELECT COUNT(*) AS n FROM deliveries WHERE system = 'lifecare' AND status = 'pending'")
    assert pending[0]["n"] > 0
    assert monitor.check() == 0  # just queued: not stuck yet
    assert _metric(client.get("/metrics", headers=ADMIN).text, "svu_hub_deliveries_stuck", "lifecare") == 0

    clock.advance(dt.timedelta(minutes=61))
    assert monitor.check() > 0
    hub.runtime.run_until_idle()
    stuck = _open(hub, "delivery_stuck")
    lifecare = [a for a in stuck if a["detail"].startswith("lifecare:")]
    assert len(lifecare) == pending[0]["n"]
    metrics = client.get("/metrics", headers=ADMIN).text
    assert _metric(metrics, "svu_hub_deliveries_stuck", "lifecare") == pending[0]["n"]
    assert _metric(metrics, "svu_hub_delivery_oldest_pending_seconds", "lifecare") >= 3660
    view = client.get("/bridge", headers=REGION).json()
    system = next(s for s in view["systems"] if s["system"] == "lifecare")
    assert system["pending"] == pending[0]["n"] and system["oldest_pending_seconds"] >= 3660
    assert sum(u["pending"] for u in system["units"]) == system["pending"]
    assert monitor.check() == 0  # raised once, not again

    circuit["lifecare"] = "open"
    assert monitor.check() == 1
    hub.runtime.run_until_idle()
    assert [a["episode_id"] for a in _open(hub, "circuit_open")] == ["bridge-lifecare"]
    assert _metric(client.get("/metrics", headers=ADMIN).text, "svu_hub_delivery_circuit_open", "lifecare") == 1

    fake = FakeLifeCare()

    async def deliver() -> None:
        async with serving(fake) as port:
            lifecare = LifeCareClient(LifeCareSettings(
                enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01))
            await DeliveryWorker(hub.log, lifecare, clock).run_once()
            await lifecare.close()

    asyncio.run(deliver())
    hub.runtime.run_until_idle()
    circuit["lifecare"] = "closed"
    monitor.check()
    hub.runtime.run_until_idle()
    assert [a for a in _open(hub, "delivery_stuck") if a["detail"].startswith("lifecare:")] == []
    assert _open(hub, "circuit_open") == []
    metrics = client.get("/metrics", headers=ADMIN).text
    assert _metric(metrics, "svu_hub_deliveries_stuck", "lifecare") == 0
    assert re.search(r'^svu_hub_deliveries\{status="delivered",system="lifecare"\} [1-9]', metrics, re.M) or \
        re.search(r'^svu_hub_deliveries\{system="lifecare",status="delivered"\} [1-9]', metrics, re.M)


def test_a_resend_reaches_the_receiver_with_the_same_idempotency_key(tmp_path: Path) -> None:
    hub, clock = _hub(tmp_path)
    ctx = ApiContext(hub.settings, hub.log, clock, hub.runtime, hub.ingestor, hub.resources)
    client = TestClient(create_app(ctx))
    fake = FakeLifeCare()
    chosen: dict[str, str] = {}

    async def scenario() -> None:
        async with serving(fake) as port:
            lifecare = LifeCareClient(LifeCareSettings(
                enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01))
            worker = DeliveryWorker(hub.log, lifecare, clock)
            await worker.run_once()
            hub.runtime.run_until_idle()
            row = hub.log.query("SELECT * FROM deliveries WHERE system = 'lifecare' AND status = 'delivered' "
                                "ORDER BY delivery_id LIMIT 1")[0]
            chosen.update(id=str(row["delivery_id"]), key=str(row["idempotency_key"]))
            assert client.post(f"/bridge/deliveries/{chosen['id']}/resend", headers=REGION).status_code == 403
            r = client.post(f"/bridge/deliveries/{chosen['id']}/resend", headers=ADMIN)
            assert r.status_code == 200 and r.json()["idempotency_key"] == chosen["key"]
            hub.runtime.run_until_idle()
            assert hub.log.query("SELECT status FROM deliveries WHERE delivery_id = ?",
                                 (chosen["id"],))[0]["status"] == "pending"
            before = len(fake.requests)
            await worker.run_once()  # its own status records, the pending status and the request again
            assert fake.requests[before:] == [(fake.requests[before][0], chosen["key"])]
            await lifecare.close()

    asyncio.run(scenario())
    assert fake.keys.count(chosen["key"]) == 2
    hub.runtime.run_until_idle()
    row = hub.log.query("SELECT status, detail FROM deliveries WHERE delivery_id = ?", (chosen["id"],))[0]
    assert row["status"] == "delivered"
    assert client.post("/bridge/deliveries/nope:SE1/resend", headers=ADMIN).status_code == 404
    listed = client.get("/bridge/deliveries?system=lifecare&status=delivered", headers=ADMIN).json()
    assert chosen["id"] in {d["delivery_id"] for d in listed}
