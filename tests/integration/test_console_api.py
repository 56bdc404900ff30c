"""The console's endpoints over a hub fed with simulated traffic and one HL7 message: Swedish
labels for every rule the hub raises, the episode list with filters and paging, search per role
(audit records written, the personnummer never written anywhere), and the lineage of a message."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.bootstrap import Hub, build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.domain.labels import labels_for, sources_document
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role
from hub.streams.appender import GroupCommitter
from hub.streams.hl7_ingest import Hl7Ingest
from tests.support.hl7 import adt
from tests.support.hl7 import lookup as ward_lookup

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
KEYS = (
    ApiKey(key=SecretStr("admin"), principal="ops-anna", role=Role.OPS_ADMIN),
    ApiKey(key=SecretStr("region"), principal="region-vll", role=Role.REGION),
    ApiKey(key=SecretStr("umea"), principal="umea", role=Role.MUNICIPALITY, municipality="2480"),
    ApiKey(key=SecretStr("dash"), principal="dash", role=Role.DASHBOARD),
)
H = {k: {"Authorization": f"Bearer {k}"} for k in ("admin", "region", "umea", "dash")}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Hub, list[bytes]]]:
    folder: Path = tmp_path_factory.mktemp("console")
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(log=LogSettings(path=folder / "hub.db"), api=ApiSettings(keys=KEYS),
                           engine=EngineSettings(directory=directory, rule_pack="vasterbotten"))
    clock = FakeClock(START + dt.timedelta(days=20))
    hub = build_hub(settings, clock=clock)
    traffic = [s.raw for s in Simulator(start=START, episodes=30, seed=5, bad_share=0.0).traffic()]
    hub.ingestor.submit("demo", traffic)
    ingest = Hl7Ingest(GroupCommitter(hub.log), ward_lookup, clock)
    ack = asyncio.run(ingest.handle(adt(control="CTRL4711").encode(), "test"))
    assert ack is not None and b"MSA|AA" in ack
    hub.runtime.run_until_idle()
    app = create_app(ApiContext(settings, hub.log, clock, hub.runtime, hub.ingestor, hub.resources))
    with TestClient(app) as client:
        yield client, hub, traffic
    hub.close()


def _audit(client: TestClient) -> list[dict]:
    return client.get("/audit?limit=5000", headers=H["admin"]).json()


def test_every_rule_the_hub_raised_has_a_swedish_name_and_a_shipped_source(console) -> None:
    client, hub, _ = console
    got = client.get("/console/labels", headers=H["dash"])
    assert got.status_code == 200, got.text
    labels = got.json()
    rules = {str(r["rule"]) for r in hub.log.query("SELECT DISTINCT rule FROM alerts")}
    assert len(rules) >= 3
    for rule in rules:
        assert rule in labels["rules"], rule
        assert labels["rules"][rule]["namn"] != rule
    shipped = sources_document()
    for code, label in labels_for().rules.items():
        cited = re.findall(r"\b([SW]\d+|SFS \d{4}:\d+|Drift)\b", label.kalla)
        assert cited, f"{code} cites nothing"
        for ref in cited:
            assert ref in shipped, f"{code} cites {ref}, which kallor.sv.md does not list"
    assert client.get("/console/sources", headers=H["dash"]).text == shipped
    assert set(labels["levels"]) >= {"1", "2", "3"}
    assert labels["outcomes"]["met_late"] == "Sent"


def test_names_come_from_the_directory_and_the_kommun_table(console) -> None:
    client, hub, _ = console
    names = client.get("/console/names", headers=H["umea"]).json()
    assert names["municipalities"]["2480"] == "Umeå"
    unit = hub.resources.directory.current().units()[0]
    assert names["units"][unit.hsa_id] == unit.name


def test_the_episode_list_filters_pages_scopes_and_is_audited(console) -> None:
    client, _, _ = console
    all_ = client.get("/console/episodes?page_size=200", headers=H["region"]).json()
    assert all_["total"] == 31
    statuses = {e["status"] for e in all_["items"]}
    assert "utskriven" in statuses
    page2 = client.get("/console/episodes?page_size=10&page=2", headers=H["region"]).json()
    assert [e["episode_id"] for e in page2["items"]] == [e["episode_id"] for e in all_["items"][10:20]]
    mine = client.get("/console/episodes?page_size=200", headers=H["umea"]).json()
    assert 0 < mine["total"] < all_["total"]
    umea = client.get("/console/episodes?page_size=200&municipality=2480", headers=H["region"]).json()
    assert {e["episode_id"] for e in umea["items"]} <= {e["episode_id"] for e in mine["items"]}
    with_alerts = client.get("/console/episodes?page_size=200&open_alerts=true", headers=H["region"]).json()
    assert all(e["open_alerts"] > 0 for e in with_alerts["items"])
    ready = client.get("/console/episodes?status=utskriven&page_size=200", headers=H["region"]).json()
    assert ready["total"] and all(e["status"] == "utskriven" for e in ready["items"])
    local = ZoneInfo("Europe/Stockholm")

    def day_of(iso: str) -> str:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(local).date().isoformat()

    day = day_of(all_["items"][0]["admitted_at"])
    dated = client.get(f"/console/episodes?admitted_from={day}&admitted_to={day}&page_size=200",
                       headers=H["region"]).json()
    assert dated["total"] >= 1 and all(day_of(e["admitted_at"]) == day for e in dated["items"])
    assert client.get("/console/episodes", headers=H["dash"]).status_code == 403
    trail = [(a["principal"], a["endpoint"]) for a in _audit(client)]
    assert ("umea", "GET /console/episodes") in trail


def _patient_of(traffic: list[bytes], kommun: str, same: bool) -> tuple[str, str]:
    for raw in traffic:
        event = orjson.loads(raw)
        patient = event["data"].get("patient")
        if event["type"].startswith("se.svu.patient_admitted.") and (patient["municipality"] == kommun) is same:
            return patient["id"]["value"] if isinstance(patient["id"], dict) else patient["id"], event["episodeid"]
    raise AssertionError("no such patient")


def test_search_by_personnummer_per_role_writes_audit_and_never_the_number(console) -> None:
    client, hub, traffic = console
    pnr, episode = _patient_of(traffic, "2480", True)
    foreign_pnr, foreign = _patient_of(traffic, "2480", False)
    body = {"kind": "personnummer", "value": pnr}
    assert [h["episode_id"] for h in client.post("/console/search", json=body, headers=H["region"]).json()["hits"]] \
        == [episode]
    assert [h["episode_id"] for h in client.post("/console/search", json=body, headers=H["umea"]).json()["hits"]] \
        == [episode]
    other = {"kind": "personnummer", "value": foreign_pnr}
    assert client.post("/console/search", json=other, headers=H["umea"]).json()["hits"] == []
    assert client.post("/console/search", json=body, headers=H["dash"]).status_code == 403
    bad = client.post("/console/search", json={"kind": "personnummer", "value": pnr[:-1] + "x"},
                      headers=H["region"])
    assert bad.status_code == 422 and pnr[:8] not in bad.text
    trail = _audit(client)
    assert any(a["principal"] == "umea" and a["episode_id"] == episode and "search" in a["endpoint"]
               for a in trail)
    assert any(a["principal"] == "umea" and a["episode_id"] is None and a["outcome"] == "not_found"
               for a in trail)
    assert not any(a["episode_id"] == foreign and a["principal"] == "umea" and a["outcome"] == "read"
                   for a in trail)
    stored = b"".join(bytes(r["value"]) for r in hub.log.query(
        "SELECT r.value AS value FROM records r JOIN topics t ON t.id = r.topic_id WHERE t.name = 'svu.audit'"))
    assert pnr.encode() not in stored and pnr[2:].encode() not in stored


def test_search_by_episode_id_source_message_id_and_msh10(console) -> None:
    client, _, traffic = console
    _, episode = _patient_of(traffic, "2480", True)
    hits = client.post("/console/search", json={"value": episode}, headers=H["region"]).json()["hits"]
    assert hits[0] == {"episode_id": episode, "matched": "episode_id", "source_message_ids": []}
    smid = f"{episode}-m002"
    hits = client.post("/console/search", json={"kind": "source_message_id", "value": smid},
                       headers=H["region"]).json()["hits"]
    assert [(h["episode_id"], h["source_message_ids"]) for h in hits] == [(episode, [smid])]
    hits = client.post("/console/search", json={"kind": "msh10", "value": "CTRL4711"},
                       headers=H["umea"]).json()["hits"]
    assert len(hits) == 1 and hits[0]["source_message_ids"] == ["COSMIC|NUS|CTRL4711"]
    assert client.post("/console/search", json={"kind": "msh10", "value": "NOPE"},
                       headers=H["region"]).json()["hits"] == []


def test_lineage_goes_from_raw_bytes_to_events_deliveries_and_kvitteringar(console) -> None:
    client, _, traffic = console
    notice = next(orjson.loads(r) for r in traffic
                  if orjson.loads(r)["type"].startswith("se.svu.admission_notice_sent."))
    smid = notice["sourcemessageid"]
    line = client.get(f"/console/messages/{smid}/lineage", headers=H["region"]).json()
    assert line["episode_id"] == notice["episodeid"]
    assert [e["type"] for e in line["events"]] == ["se.svu.admission_notice_sent.v1"]
    receivers = {d["receiver"] for d in line["deliveries"]}
    assert receivers == set(notice["data"]["recipients"])
    assert all(len(d["idempotency_key"]) == 32 for d in line["deliveries"])
    acked = [d for d in line["deliveries"] if d["status"] == "acknowledged"]
    assert acked and all(d["kvittering_at"] for d in acked)
    assert line["raw"] is None  # canonical JSON keeps no raw topic; and region is not ops
    hl7 = client.get("/console/messages/COSMIC|NUS|CTRL4711/lineage", headers=H["admin"]).json()
    assert hl7["raw"]["text"].startswith("MSH|") and hl7["raw"]["where"].startswith("svu.raw.hl7:")
    assert client.get("/console/messages/COSMIC|NUS|CTRL4711/lineage", headers=H["region"]).json()["raw"] is None
    assert client.get("/console/messages/nothing-here/lineage", headers=H["region"]).status_code == 404
    assert client.get(f"/console/messages/{smid}/lineage", headers=H["dash"]).status_code == 403


def test_alert_history_counts_raised_alerts_per_month_and_rule(console) -> None:
    client, hub, _ = console
    history = client.get("/console/alert-history", headers=H["dash"]).json()
    total = hub.log.query("SELECT COUNT(*) AS n FROM alerts")[0]["n"]
    assert sum(b["raised"] for b in history) == total
    assert all(re.fullmatch(r"\d{4}-\d{2}", b["period"]) for b in history)
    mine = client.get("/console/alert-history", headers=H["umea"]).json()
    assert sum(b["raised"] for b in mine) < total
