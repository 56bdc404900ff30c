"""The trust boundary, swept from the OpenAPI document rather than a hand-written list: every
operation × every role × another kommun's resources (existing and non-existent ids, filters,
CSV) gives 0 responses carrying that kommun's patient data, and no 5xx; the same after Umeå tried
to write itself into Luleå's episode by JSON, CSV and an inbox file. Writes in another kommun's
unit's name are refused with no side effect; an identity conflict is refused, dead-lettered and
alerted, never merged."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.bootstrap import Hub, build_hub
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.schemas.payloads import PatientAdmitted
from hub.settings import ApiSettings, EngineSettings, HubSettings, LogSettings
from hub.streams import kommun_files
from tests.samples import SOC, SOC_LULEA, WARD, t
from tests.support.trust import (
    ALERT_A,
    ALERT_B,
    EP_A,
    EP_B,
    KEYS,
    NAME_A,
    NAME_B,
    PNR_A,
    PNR_B,
    SECRET,
    H,
    carries,
    identifiers,
    person,
    sample_value,
    world,
    write_directory,
)

NOW = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)
PRATOR = (Path(__file__).parents[2] / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()
MISSING = {"episode_id": "VLL-2026-999999", "alert_id": "no-such-alert", "letter_id": "svu.dlq.kommun-2580:0:999",
           "kommunkod": "2580"}


def settings_for(tmp: Path) -> HubSettings:
    return HubSettings(log=LogSettings(path=tmp / "hub.db"), api=ApiSettings(keys=KEYS),
                       engine=EngineSettings(directory=write_directory(tmp),
                                             patient_key_secret=SecretStr(SECRET)))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    hub = build_hub(settings_for(tmp_path), clock=FakeClock(NOW))
    hub.log.append(world(NOW))
    hub.runtime.run_until_idle()
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    app = create_app(ApiContext(hub.settings, hub.log, hub.clock, hub.runtime, hub.ingestor, hub.resources))
    with TestClient(app) as c:
        yield c


def letter_of(client: Any, source: str) -> str:
    rows = client.get(f"/dead-letters?source={source}", headers=H["ops-anna"]).json()
    return str(rows[0]["id"])


def bodies(path: str, op: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, bytes]]:
    """Request bodies for one operation: its documented example aimed at Luleå's episode, and a
    superset of every field any operation takes."""
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return [("", b"")]
    out: list[tuple[str, bytes]] = []
    for media, spec in content.items():
        if "xml" in media:
            out.append((media, PRATOR.replace(b"VLL-2026-000042", ids["episode_id"].encode())))
        elif media == "text/csv":
            out.append((media, (f"type,message_id,episode_id,unit,time,sol\nkommunklar,X-1,{ids['episode_id']},"
                                f"{SOC},2026-03-02T10:00:00+01:00,hemtjänst\n").encode()))
        else:
            example = spec.get("example") or {}
            text = orjson.dumps(example).decode().replace("VLL-2026-000042", ids["episode_id"])
            out.append((media, text.encode()))
            out.append((media, orjson.dumps({"note": "n", "assignee": "team", "ids": [ids["letter_id"]],
                                             "reason": "a reason", "episode_id": ids["episode_id"],
                                             "personnummer": PNR_B, "limit": 10})))
    return out


def requests(openapi: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str, str, bytes]]:
    """(method, url, content type, body) for every operation, with Luleå's ids and filters."""
    out = []
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            url = path
            for name, value in ids.items():
                url = url.replace("{" + name + "}", value)
            query = []
            for param in op.get("parameters", []):
                if param["in"] != "query":
                    continue
                name = param["name"]
                value = {"municipality": "2580", "unit": SOC_LULEA, "episode_id": ids["episode_id"],
                         "principal": "lulea-kommun", "source": "kommun-2580"}.get(name)
                query.append((name, value if value is not None else sample_value(param.get("schema", {}))))
            qs = "&".join(f"{k}={v}" for k, v in query)
            for media, body in bodies(path, op, ids):
                out.append((method.upper(), f"{url}?{qs}" if qs else url, media, body))
                if qs:
                    out.append((method.upper(), url, media, body))
    return out


def sweep(client: Any, callers: list[str], ids: dict[str, str]) -> list[tuple[str, str, int, str]]:
    """Every request as each caller; returns (caller, request, status, body) of all answers."""
    answers = []
    for method, url, media, body in requests(client.get("/openapi.json").json(), ids):
        for caller in callers:
            headers = {**H[caller], **({"Content-Type": media} if media else {})}
            r = client.request(method, url, content=body or None, headers=headers)
            answers.append((caller, f"{method} {url}", r.status_code, r.text))
    return answers


def assert_nothing_of_lulea(answers: list[tuple[str, str, int, str]]) -> None:
    assert answers
    assert not [(c, u, s) for c, u, s, _ in answers if s >= 500]
    b = (*identifiers(PNR_B, NAME_B), EP_B, ALERT_B)
    leaks = [(c, u, s, carries(text, *b)) for c, u, s, text in answers
             if c in ("umea-kommun", "dashboard") and carries(text, *b)]
    assert leaks == []
    a = (*identifiers(PNR_A, NAME_A), EP_A, ALERT_A)
    dash = [(u, s, carries(text, *a)) for c, u, s, text in answers if c == "dashboard" and carries(text, *a)]
    assert dash == []  # the dashboard role: aggregates only


def ids_for(client: Any, existing: bool) -> dict[str, str]:
    if not existing:
        return dict(MISSING)
    return {"episode_id": EP_B, "alert_id": ALERT_B, "letter_id": letter_of(client, "kommun-2580"),
            "kommunkod": "2580"}


@pytest.mark.parametrize("existing", [True, False])
def test_no_operation_gives_umea_or_the_dashboard_lulea_s_patient_data(client: TestClient, existing: bool) -> None:
    answers = sweep(client, [k.principal for k in KEYS], ids_for(client, existing))
    assert_nothing_of_lulea(answers)
    # the sweep reached the data: Luleå itself and ops read Luleå's episode
    ok = {(c, u) for c, u, s, text in answers if s == 200 and PNR_B in text}
    if existing:
        assert ("lulea-kommun", f"GET /episodes/{EP_B}/timeline") in ok
        assert ("ops-anna", f"GET /episodes/{EP_B}/timeline") in ok


def test_each_kommun_reads_its_own_and_404s_the_other(client: TestClient) -> None:
    for caller, own, other in (("umea-kommun", EP_A, EP_B), ("lulea-kommun", EP_B, EP_A)):
        assert client.get(f"/episodes/{own}/timeline", headers=H[caller]).status_code == 200
        r = client.get(f"/episodes/{other}/timeline", headers=H[caller])
        missing = client.get("/episodes/VLL-2026-999999/timeline", headers=H[caller])
        assert (r.status_code, r.json()) == (missing.status_code, missing.json()) == (404, missing.json())
        alerts = client.get("/alerts", headers=H[caller]).json()
        assert {a["episode_id"] for a in alerts} == {own}
    assert client.get("/alerts", headers=H["dashboard"]).status_code == 403
    summary = client.get("/alerts/summary", headers=H["dashboard"]).json()
    assert sum(row["count"] for row in summary) >= 2 and "episode_id" not in str(summary)


async def _write_into_lulea(client: TestClient, hub: Hub, tmp: Path) -> None:
    claim = {"type": "kommunklar", "message_id": "U-1", "episode_id": EP_B, "unit": SOC,
             "time": "2026-03-02T10:00:00+01:00", "sol": "hemtjänst"}
    r = client.post("/inbound/kommun/2480", json=claim, headers=H["umea-kommun"])
    missing = client.post("/inbound/kommun/2480", json={**claim, "episode_id": "VLL-2026-999999"},
                          headers=H["umea-kommun"])
    assert (r.status_code, r.json()) == (404, missing.json())  # the same for not-part-of and non-existent
    csv = f"type,message_id,episode_id,unit,time,sol\nkommunklar,U-2,{EP_B},{SOC},2026-03-02T10:00:00+01:00,x\n"
    r = client.post("/inbound/kommun/2480", content=csv.encode(), headers={**H["umea-kommun"],
                                                                          "Content-Type": "text/csv"})
    assert r.status_code == 404
    inbox = tmp / "kommun-inbox"
    (inbox / "2480").mkdir(parents=True)
    (inbox / "2480" / "claim.csv").write_text(csv.replace("U-2", "U-3"), encoding="utf-8")
    stop = asyncio.Event()
    task = asyncio.create_task(kommun_files.watch(inbox, {}, hub.log, hub.clock, stop, every=0.02,
                                                  **{**kommun_files.options(hub.settings, hub.resources),
                                                     "settle_s": 0}))
    for _ in range(200):
        if (inbox / "2480" / "rejected" / "claim.csv").exists():
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert "episode_id" in (inbox / "2480" / "rejected" / "claim.csv.reason.txt").read_text()


async def test_write_then_read_gives_nothing(client: TestClient, hub: Hub, tmp_path: Path) -> None:
    events_before = hub.log.count(topics.EVENTS)
    await _write_into_lulea(client, hub, tmp_path)
    hub.runtime.run_until_idle()
    assert hub.log.count(topics.EVENTS) == events_before  # no side effect
    refused = [orjson.loads(r.value) for r in hub.log.read(topics.AUDIT, 0, 0, 10_000)]
    # JSON twice (not part of, non-existent), CSV and the inbox file: each refusal audited
    assert sum(1 for a in refused if a["outcome"] == "refused" and a["huvudman"] == "kommun:2480") == 4
    assert_nothing_of_lulea(sweep(client, ["umea-kommun", "dashboard"], ids_for(client, True)))


def test_a_kvittering_or_kommunklar_in_another_kommuns_unit_is_refused(client: TestClient, hub: Hub) -> None:
    before = hub.log.count(topics.EVENTS)
    kvittering = {"type": "kvittering", "message_id": "U-9", "episode_id": EP_B, "unit": SOC_LULEA,
                  "time": "2026-03-02T10:00:00+01:00", "acknowledged_message": f"{EP_B}-N1"}
    for record in (kvittering, {**kvittering, "type": "kommunklar", "message_id": "U-10"},
                   {**kvittering, "episode_id": EP_A}):
        r = client.post("/inbound/kommun/2480", json=record, headers=H["umea-kommun"])
        assert r.status_code == 403, r.text
        assert r.json()["errors"][0]["field"] == "unit"
        # and in Luleå's path: Umeå's key may not speak for Luleå
        assert client.post("/inbound/kommun/2580", json=record, headers=H["umea-kommun"]).status_code == 403
    hub.runtime.run_until_idle()
    assert hub.log.count(topics.EVENTS) == before
    alert = client.get(f"/alerts/{ALERT_B}", headers=H["lulea-kommun"]).json()
    assert alert["state"] == "open"  # no alert resolved
    deliveries = client.get(f"/episodes/{EP_B}/deliveries", headers=H["ops-anna"]).json()
    assert not [d for d in deliveries if d["receiver"] == WARD]  # nothing forwarded to the ward


def test_a_kommun_acts_only_on_alerts_of_its_own_units(client: TestClient) -> None:
    assert client.post(f"/alerts/{ALERT_B}/acknowledge", headers=H["umea-kommun"]).status_code == 404
    ok = client.post(f"/alerts/{ALERT_A}/assign", json={"assignee": "team"}, headers=H["umea-kommun"])
    assert ok.status_code == 200 and ok.json()["assignee"] == "team"


def test_an_identity_conflict_is_refused_dead_lettered_and_alerted(client: TestClient, hub: Hub) -> None:
    other = person(PNR_B, NAME_B, "2480")
    content = PatientAdmitted(patient=other, ward=WARD, admitted_at=t(1)).model_dump(mode="json")
    message = {"messageId": "LC-X", "messageType": "patient_admitted", "episodeId": EP_A,
               "eventType": "se.svu.patient_admitted.v1", "eventTime": "2026-03-02T10:00:00+01:00",
               "content": content}
    timeline = client.get(f"/episodes/{EP_A}/timeline", headers=H["ops-anna"]).json()
    r = client.post("/inbound/lifecare", json=message, headers=H["region-vb"])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "patient.id"
    assert PNR_B not in r.text and NAME_B not in r.text
    assert hub.log.count("svu.dlq.lifecare") == 1
    hub.runtime.run_until_idle()
    alerts = client.get("/alerts?rule=identity_conflict", headers=H["ops-anna"]).json()
    assert [a["episode_id"] for a in alerts] == [EP_A]
    assert client.get(f"/episodes/{EP_A}/timeline", headers=H["ops-anna"]).json() == timeline  # unchanged
    # the same patient again is no conflict
    same = {**message, "messageId": "LC-Y", "content": {**content, "patient": person(PNR_A, NAME_A, "2480")
                                                        .model_dump(mode="json")}}
    assert client.post("/inbound/lifecare", json=same, headers=H["region-vb"]).status_code == 202


def test_a_region_sees_the_episodes_of_its_own_hospitals_only(client: TestClient) -> None:
    for episode in (EP_A, EP_B):  # both lie at a Västerbotten ward
        assert client.get(f"/episodes/{episode}/timeline", headers=H["region-vb"]).status_code == 200
        assert client.get(f"/episodes/{episode}/timeline", headers=H["region-nb"]).status_code == 404
    assert client.get("/alerts", headers=H["region-nb"]).json() == []
    assert {a["episode_id"] for a in client.get("/alerts", headers=H["region-vb"]).json()} == {EP_A, EP_B}
