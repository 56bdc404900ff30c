"""The ops API over a hub fed with simulated traffic: scoping per kommun (404, not 403), the
audit log, alerts, dead letters with replay, statistics, JWT and metrics."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import jwt
import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, JwtSettings, LogSettings, Role

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
KEYS = (
    ApiKey(key=SecretStr("admin"), principal="ops-anna", role=Role.OPS_ADMIN),
    ApiKey(key=SecretStr("region"), principal="region-vll", role=Role.REGION),
    ApiKey(key=SecretStr("umea"), principal="umea", role=Role.MUNICIPALITY, municipality="2480"),
    ApiKey(key=SecretStr("dash"), principal="dash", role=Role.DASHBOARD),
)
SECRET = "jwt-test-secret-that-is-long-enough-for-hs256"
H = {k: {"Authorization": f"Bearer {k}"} for k in ("admin", "region", "umea", "dash")}


@pytest.fixture(scope="module")
def hub_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, object]]:
    from importlib.resources import files

    folder: Path = tmp_path_factory.mktemp("ops")
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(
        log=LogSettings(path=folder / "hub.db"),
        api=ApiSettings(keys=KEYS, jwt=JwtSettings(issuer="https://idp.test", algorithms=("HS256",),
                                                    key=SecretStr(SECRET))),
        engine=EngineSettings(directory=directory, rule_pack="vasterbotten"))
    clock = FakeClock(START + dt.timedelta(days=20))
    hub = build_hub(settings, clock=clock)
    traffic = Simulator(start=START, episodes=40, seed=9, bad_share=0.2).traffic()
    hub.ingestor.submit("demo", [s.raw for s in traffic])
    hub.runtime.run_until_idle()
    app = create_app(ApiContext(settings, hub.log, clock, hub.runtime, hub.ingestor, hub.resources))
    with TestClient(app) as client:
        yield client, hub
    hub.close()


def _audit(client: TestClient) -> list[dict]:
    return client.get("/audit?limit=5000", headers=H["admin"]).json()


def _episodes_of(client: TestClient, kommun: str, other: bool) -> str:
    alerts = client.get("/alerts?limit=1000", headers=H["admin"]).json()
    for a in alerts:
        if a["municipality"] and (a["municipality"] != kommun) is other:
            return a["episode_id"]
    raise AssertionError("no episode for the test")


def test_a_kommun_reads_its_own_episode_and_gets_404_for_another(hub_client) -> None:
    client, _ = hub_client
    own, foreign = _episodes_of(client, "2480", False), _episodes_of(client, "2480", True)
    for path in ("", "/timeline", "/deliveries"):
        assert client.get(f"/episodes/{own}{path}", headers=H["umea"]).status_code == 200
        r = client.get(f"/episodes/{foreign}{path}", headers=H["umea"])
        assert r.status_code == 404
        assert r.json() == client.get(f"/episodes/VLL-2099-999999{path}", headers=H["umea"]).json()
    trail = [(a["principal"], a["episode_id"], a["outcome"]) for a in _audit(client)]
    assert ("umea", own, "read") in trail
    assert ("umea", foreign, "not_found") in trail
    assert sum(1 for p, e, o in trail if p == "umea" and e == own and o == "read") == 3


def test_each_read_of_patient_data_leaves_an_audit_record(hub_client) -> None:
    client, _ = hub_client
    own = _episodes_of(client, "2480", False)
    before = len(_audit(client))
    client.get(f"/episodes/{own}/timeline", headers=H["region"])
    after = _audit(client)
    assert len(after) == before + 1
    last = after[-1]
    assert (last["principal"], last["role"], last["episode_id"], last["endpoint"]) == (
        "region-vll", "region", own, "GET /episodes/{episode_id}/timeline")
    assert client.get("/audit", headers=H["region"]).status_code == 403


def test_kommun_sees_only_its_alerts_and_figures(hub_client) -> None:
    client, _ = hub_client
    alerts = client.get("/alerts?limit=1000", headers=H["umea"]).json()
    assert alerts
    assert {a["municipality"] for a in alerts} == {"2480"}
    figures = client.get("/stats", headers=H["umea"]).json()
    assert figures
    assert {f["municipality"] for f in figures} == {"2480"}
    assert client.get("/stats?municipality=2482", headers=H["umea"]).json() == []
    everything = client.get("/stats", headers=H["dash"]).json()
    assert len({f["municipality"] for f in everything}) > 1
    assert client.get(f"/episodes/{alerts[0]['episode_id']}", headers=H["dash"]).status_code == 404


def test_alerts_filter_acknowledge_and_assign(hub_client) -> None:
    client, _ = hub_client
    open_kvitt = client.get("/alerts?state=open&rule=kvittering", headers=H["admin"]).json()
    assert open_kvitt
    assert {a["rule"] for a in open_kvitt} == {"kvittering"}
    target = open_kvitt[0]["alert_id"]
    r = client.post(f"/alerts/{target}/acknowledge", json={"note": "Ringt"}, headers=H["admin"])
    assert r.status_code == 200
    assert r.json()["acknowledged_by"] == "ops-anna"
    r = client.post(f"/alerts/{target}/assign", json={"assignee": "team-umea"}, headers=H["admin"])
    assert r.json()["assignee"] == "team-umea"
    assert client.post(f"/alerts/{target}/assign", json={"assignee": ""}, headers=H["admin"]).status_code == 422
    old = client.get("/alerts?min_age_hours=1000", headers=H["admin"]).json()
    assert old == []


def test_acknowledgements_survive_a_replay(hub_client) -> None:
    client, hub = hub_client
    acked = [a for a in client.get("/alerts?limit=1000", headers=H["admin"]).json() if a["acknowledged_by"]]
    assert acked
    hub.runtime.reset()
    hub.runtime.run_until_idle()
    again = {a["alert_id"]: a for a in client.get("/alerts?limit=1000", headers=H["admin"]).json()}
    for a in acked:
        assert again[a["alert_id"]]["acknowledged_by"] == a["acknowledged_by"]
        assert again[a["alert_id"]]["assignee"] == a["assignee"]


def test_dead_letters_show_replay_and_discard(hub_client) -> None:
    client, hub = hub_client
    letters = client.get("/dead-letters?status=open", headers=H["admin"]).json()
    assert len(letters) >= 2
    first = letters[0]
    shown = client.get(f"/dead-letters/{first['id']}", headers=H["admin"]).json()
    assert shown["reason"]
    assert shown["raw_base64"]
    assert client.get(f"/dead-letters/{first['id']}", headers=H["region"]).json()["raw_base64"] is None
    assert client.get("/dead-letters", headers=H["umea"]).status_code == 403
    # replay as it was: rejected again, linked to the original
    r = client.post("/dead-letters/replay", json={"ids": [first["id"]]}, headers=H["admin"]).json()
    assert r[0]["accepted"] is False
    assert r[0]["outcome"].startswith("rejected again")
    hub.runtime.run_until_idle()  # the running hub's loop does this within its poll interval
    linked = [d for d in client.get("/dead-letters?status=open", headers=H["admin"]).json()
              if d["replay_of"] == first["id"]]
    assert len(linked) == 1
    # replay with a corrected body: accepted, the dead letter is closed with a reference
    second = next(d for d in letters[1:] if d["source"] == "demo")
    from hub.schemas.payloads import PatientAdmitted
    from tests.samples import WARD, event, patient, t

    fixed = event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), "VLL-2026-009999").to_json()
    r = client.post("/dead-letters/replay", json={"ids": [second["id"]], "reason": "rättat",
                                                  "corrected_base64": base64.b64encode(fixed).decode()},
                    headers=H["admin"]).json()
    assert r[0]["accepted"] is True
    assert r[0]["new_reference"].startswith("svu.events:")
    row = client.get(f"/dead-letters/{second['id']}", headers=H["admin"]).json()
    assert (row["status"], row["handled_by"], row["handled_reason"]) == ("replayed", "ops-anna", "rättat")
    assert client.post("/dead-letters/replay", json={"ids": [second["id"]]}, headers=H["admin"]).status_code == 409
    third = linked[0]
    r = client.post(f"/dead-letters/{third['id']}/discard", json={"reason": "testmeddelande"}, headers=H["admin"])
    assert r.json()["status"] == "discarded"


def test_jwt_bearer_tokens(hub_client) -> None:
    client, _ = hub_client
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": "https://idp.test", "aud": "svu-hub", "sub": "anna@umea", "exp": now + dt.timedelta(minutes=5),
              "svu_role": "kommun", "svu_kommun": "2480"}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    r = client.get("/alerts?limit=5", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert {a["municipality"] for a in r.json()} <= {"2480"}
    for bad in ({**claims, "iss": "https://evil"}, {**claims, "exp": now - dt.timedelta(minutes=1)},
                {k: v for k, v in claims.items() if k != "svu_kommun"}):
        token = jwt.encode(bad, SECRET, algorithm="HS256")
        assert client.get("/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    assert client.get("/alerts", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_metrics_have_no_patient_data(hub_client) -> None:
    client, _ = hub_client
    assert client.get("/metrics").status_code == 401  # ops only: per-kommun figures are not public
    assert client.get("/metrics", headers=H["umea"]).status_code == 403
    text = client.get("/metrics", headers=H["admin"]).text
    assert "svu_hub_topic_records_total{topic=\"svu.events\"}" in text
    assert "svu_hub_alerts{rule=\"kvittering\"" in text
    assert re.search(r'svu_hub_processor_lag_records\{processor="engine"\} \d', text)
    assert "svu_hub_dead_letters{" in text
    assert "1912" not in text and "19" + "121212" not in text


def test_stats_csv(hub_client) -> None:
    client, _ = hub_client
    r = client.get("/stats.csv", headers=H["admin"])
    assert r.headers["content-type"].startswith("text/csv")
    header, *rows = r.text.strip().splitlines()
    assert header.startswith("event_name") is False
    assert "municipality,month,care_type,episodes_closed" in header
    assert len(rows) == len(client.get("/stats", headers=H["admin"]).json())


def test_directory_view_and_reload(hub_client) -> None:
    client, _ = hub_client
    d = client.get("/directory", headers=H["region"]).json()
    assert d["version"] == "demo-vasterbotten"
    assert len(d["units"]) > 40
    assert client.post("/directory/reload", headers=H["region"]).status_code == 403
    assert client.post("/directory/reload", headers=H["admin"]).json()["units"] == len(d["units"])
    assert orjson.loads(orjson.dumps(d))["loaded_from"].endswith("directory-vasterbotten.yaml")


def test_out_of_range_numbers_are_refused_not_crashed(hub_client) -> None:
    client, _ = hub_client
    r = client.get("/audit?offset=99999999999999999999", headers=H["admin"])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.offset"
