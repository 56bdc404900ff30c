"""LifeCare's inbound endpoint and its contract: a valid message is stored then answered 202;
a bad one 422 naming the LifeCare field, kept in the dead-letter store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.adapters.lifecare.contract import schema
from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub
from hub.domain.clock import FakeClock
from hub.settings import ApiKey, ApiSettings, HubSettings, LogSettings, Role
from tests.samples import SOC

ROOT = Path(__file__).resolve().parents[2]


def test_contract_file_is_what_the_code_generates() -> None:
    shipped = json.loads((ROOT / "contracts" / "lifecare" / "lifecare-message.schema.json").read_text())
    assert shipped == schema()


def test_inbound_lifecare(tmp_path: Path) -> None:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           api=ApiSettings(keys=(ApiKey(key=SecretStr("lc"), principal="lifecare", role=Role.REGION),)))
    hub = build_hub(settings, clock=FakeClock(dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)))
    message = {"messageId": "LC-1", "messageType": "message_acknowledged", "episodeId": "VLL-2026-000001",
               "eventType": "se.svu.message_acknowledged.v1", "eventTime": "2026-03-02T09:05:00+01:00",
               "content": {"message_id": "N1", "unit": SOC, "acknowledged_at": "2026-03-02T09:05:00+01:00"}}
    with TestClient(create_app(ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor))) as client:
        h = {"Authorization": "Bearer lc"}
        ok = client.post("/inbound/lifecare", json=message, headers=h)
        assert ok.status_code == 202
        assert ok.json()["stored_at"].startswith("svu.events:")
        bad_unit = client.post("/inbound/lifecare", json={**message, "content": {**message["content"], "unit": "X"}},
                               headers=h)
        assert bad_unit.status_code == 422
        assert bad_unit.json()["errors"][0]["field"] == "content.unit"
        bad_type = client.post("/inbound/lifecare", json={**message, "eventType": "se.svu.nothing.v1"}, headers=h)
        assert bad_type.status_code == 422
        assert bad_type.json()["errors"][0]["field"].startswith("eventType")
        missing = client.post("/inbound/lifecare", json={k: v for k, v in message.items() if k != "episodeId"},
                              headers=h)
        assert missing.json()["errors"][0]["field"] == "episodeId"
    assert hub.log.count("svu.events") == 1
    assert hub.log.count("svu.dlq.lifecare") == 3
    hub.close()
