"""Every kommun of Sweden on every inbound path: a patient folkbokförd in any of the 290
kommuner is accepted over HL7 (PID-11), Prator, LifeCare, the kommun API and as canonical
events, and a meddelande about them is routed once the directory has the kommun's units."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.adapters.hl7.mapping import canonical
from hub.adapters.prator.mapping import parse as prator_parse
from hub.api.app import ApiContext, create_app
from hub.bootstrap import build_hub
from hub.demo.units import kommun_orgnr, region_orgnr
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.schemas.envelope import parse_event
from hub.schemas.geography import kommuner
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role

ROOT = Path(__file__).parents[2]
CODES = [k.code for k in kommuner()]
WARD = f"SE{region_orgnr('24')}-V00"
NOW = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
HL7 = (ROOT / "tests" / "samples" / "hl7" / "a01-utf8.hl7").read_bytes()
PRATOR = (ROOT / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()


def soc(code: str) -> str:
    return f"SE{kommun_orgnr(code)}-SOC"


def test_the_table_is_all_of_sweden() -> None:
    assert len(CODES) == 290 and len({c[:2] for c in CODES}) == 21


def test_hl7_pid_11_keeps_every_kommun() -> None:
    for code in CODES:
        raw = HL7.replace(b"^SE^H^^2482", f"^SE^H^^{code}".encode())
        parsed = canonical(raw, lambda c, f: WARD, NOW)
        (event,) = parsed.events
        assert event.data.patient.municipality == code


def test_prator_accepts_every_kommun() -> None:
    for code in CODES:
        raw = PRATOR.replace(b"<Folkbokforingskommun>2480<", f"<Folkbokforingskommun>{code}<".encode())
        assert prator_parse(raw, NOW).data.patient.municipality == code


def test_canonical_events_accept_every_kommun() -> None:
    base = orjson.loads(prator_parse(PRATOR, NOW).to_json())
    for code in CODES:
        doc = {**base, "id": f"e-{code}", "data": {**base["data"], "patient": {
            **base["data"]["patient"], "municipality": code}}}
        assert parse_event(orjson.dumps(doc)).data.patient.municipality == code


def _directory(tmp: Path) -> Path:
    lines = ['version: "all"', "units:",
             f"  - {{hsa_id: {WARD}, name: Avdelning, huvudman: region, kind: slutenvard, "
             'municipality: "2480", systems: [{system: lifecare, from_date: 2018-01-01}]}']
    for k in kommuner():
        lines.append(f'  - {{hsa_id: {soc(k.code)}, name: "{k.name} socialtjänst", huvudman: "{k.code}", '
                     f'kind: socialtjanst, municipality: "{k.code}", '
                     "systems: [{system: lifecare, from_date: 2018-01-01}]}")
    path = tmp / "units.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_lifecare_and_kommun_inbound_accept_every_kommun_and_route_to_its_units(tmp_path: Path) -> None:
    settings = HubSettings(
        log=LogSettings(path=tmp_path / "hub.db"), engine=EngineSettings(directory=_directory(tmp_path)),
        api=ApiSettings(keys=(ApiKey(key=SecretStr("ops"), principal="ops", role=Role.OPS_ADMIN),)))
    hub = build_hub(settings, clock=FakeClock(NOW))
    h = {"Authorization": "Bearer ops"}
    with TestClient(create_app(ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor, hub.resources))) as client:
        for n, code in enumerate(CODES):
            episode = f"E-{code}"
            notice = {"messageId": f"LC-{code}", "messageType": "admission_notice_sent", "episodeId": episode,
                      "eventType": "se.svu.admission_notice_sent.v1", "eventTime": "2026-03-02T11:00:00+01:00",
                      "content": {"notice_id": f"N-{code}", "sender": WARD, "needs": {
                          "expected": ["socialtjanst"], "changed": True},
                          "patient": {"id": "191212121212", "municipality": code}}}
            r = client.post("/inbound/lifecare", json=notice, headers=h)
            assert r.status_code == 202, (code, r.text)
            hub.runtime.run_until_idle()  # the kommun hears of the episode once the hub has routed it
            ready = {"type": "kommunklar", "message_id": f"K-{n}", "episode_id": episode, "unit": soc(code),
                     "time": "2026-03-02T11:30:00+01:00"}
            r = client.post(f"/inbound/kommun/{code}", json=ready, headers=h)
            assert r.status_code == 202, (code, r.text)
    hub.runtime.run_until_idle()
    routed = {t for t in hub.log.topics() if t.startswith("svu.deliveries.")}
    assert routed >= {topics.deliveries("lifecare", soc(code)) for code in CODES}
    assert not [t for t in hub.log.topics() if t.startswith("svu.dlq.")]
    hub.close()
