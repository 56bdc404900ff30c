"""Audit completeness (patientdatalagen 4 kap.): every 2xx body that carries a test patient's
identity has an audit record of that read, with the patient's keyed hash; a patient's log
extract (``POST /audit/search``, ``hub audit extract``) lists exactly the reads of that
patient's episodes; raw dead-letter reads, refusals and failed logins are audited too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.domain.episode import patient_key
from hub.schemas import topics
from tests.integration.test_access import client, hub, ids_for, requests  # noqa: F401 - fixtures
from tests.support.trust import EP_A, EP_B, NAME_A, NAME_B, PNR_A, PNR_B, SECRET, H, carries, identifiers

READERS = ["ops-anna", "region-vb", "umea-kommun", "lulea-kommun"]


def _audit(running: Any) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in running.log.read(topics.AUDIT, 0, 0, 100_000)]


def _template(url: str, ids: dict[str, str]) -> str:
    path = url.split("?")[0]
    for name, value in ids.items():
        path = path.replace(value, "{" + name + "}")
    return path


def test_every_body_with_a_patient_has_its_audit_record(client: TestClient, hub: Any) -> None:  # noqa: F811
    key = {PNR_A: patient_key(PNR_A, SECRET.encode()), PNR_B: patient_key(PNR_B, SECRET.encode())}
    carried: list[tuple[str, str, str]] = []
    for existing_ids in (ids_for(client, True), {**ids_for(client, True), "episode_id": EP_A}):
        for method, url, _, _ in requests(client.get("/openapi.json").json(), existing_ids):
            if method != "GET":
                continue
            for caller in READERS:
                before = len(_audit(hub))
                r = client.get(url, headers=H[caller])
                records = _audit(hub)[before:]
                for pnr, name in ((PNR_A, NAME_A), (PNR_B, NAME_B)):
                    if r.status_code == 200 and carries(r.text, *identifiers(pnr, name)):
                        carried.append((caller, pnr, url))
                        found = [a for a in records if key[pnr] in a["patient_keys"] and a["principal"] == caller
                                 and a["endpoint"] == f"GET {_template(url, existing_ids)}"]
                        assert found, (caller, url)
    # the sweep did find patient data in answers, for both patients and several principals
    assert {c for c, p, _ in carried if p == PNR_A} >= {"ops-anna", "umea-kommun"}
    assert {c for c, p, _ in carried if p == PNR_B} >= {"ops-anna", "lulea-kommun"}


def test_a_patients_extract_lists_exactly_that_patients_reads(client: TestClient, hub: Any) -> None:  # noqa: F811
    client.get(f"/episodes/{EP_A}/timeline", headers=H["umea-kommun"])
    client.get(f"/episodes/{EP_B}/timeline", headers=H["lulea-kommun"])
    client.get(f"/episodes/{EP_A}", headers=H["ops-anna"])
    client.get("/alerts", headers=H["lulea-kommun"])
    extract = client.post("/audit/search", json={"personnummer": "19121212-1212"}, headers=H["ops-anna"]).json()
    assert [(a["principal"], a["endpoint"]) for a in extract] == [
        ("umea-kommun", "GET /episodes/{episode_id}/timeline"), ("ops-anna", "GET /episodes/{episode_id}")]
    assert all(EP_B not in (a["episode_id"], *a["episode_ids"]) for a in extract)
    assert PNR_A not in str(_audit(hub)) and NAME_A not in str(_audit(hub))  # links are keyed hashes only
    # the personnummer never in a URL: the GET filters take episode, principal and time only
    assert [a["principal"] for a in client.get(f"/audit?episode_id={EP_B}", headers=H["ops-anna"]).json()] == [
        "lulea-kommun", "lulea-kommun"]
    assert client.post("/audit/search", json={"personnummer": "nonsense"}, headers=H["ops-anna"]).status_code == 422
    assert client.post("/audit/search", json={}, headers=H["umea-kommun"]).status_code == 403


def test_raw_dead_letter_reads_refusals_and_failed_logins_are_audited(client: TestClient, hub: Any) -> None:  # noqa: F811
    letter = ids_for(client, True)["letter_id"]
    assert client.get(f"/dead-letters/{letter}", headers=H["ops-anna"]).json()["raw_text"]
    client.get("/alerts", headers={"Authorization": "Bearer wrong"})
    client.post("/inbound/kommun/2480", json={"type": "kvittering", "message_id": "x", "episode_id": EP_B,
                                              "unit": "SE2120024803-SOC", "time": "2026-03-02T10:00:00+01:00",
                                              "acknowledged_message": "y"}, headers=H["umea-kommun"])
    records = _audit(hub)
    raw = [a for a in records if a["outcome"] == "raw_read"]
    assert raw and raw[0]["patient_keys"] == [patient_key(PNR_B, SECRET.encode())]
    assert [a["detail"] for a in records if a["outcome"] == "failed_login"] == ["bad credential"]
    refused = [a for a in records if a["outcome"] == "refused"]
    assert refused and refused[-1]["huvudman"] == "kommun:2480" and refused[-1]["episode_id"] == EP_B


def test_hub_audit_extract_prints_one_patients_reads(client: TestClient, hub: Any, tmp_path: Path,  # noqa: F811
                                                     monkeypatch: Any) -> None:
    client.get(f"/episodes/{EP_A}/timeline", headers=H["umea-kommun"])
    client.get(f"/episodes/{EP_B}/timeline", headers=H["lulea-kommun"])
    monkeypatch.setenv("HUB_ENGINE__PATIENT_KEY_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["audit", "extract", "--data", str(hub.settings.log.path)],
                                input="19121212-1212\n")
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [(r["principal"], r["episode_id"]) for r in lines] == [("umea-kommun", EP_A)]
    assert PNR_A not in result.output.replace("19121212-1212", "")
