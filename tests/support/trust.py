"""Helpers for tests of the trust boundary: a small unit directory (a region ward and units of
Umeå and Luleå) and episodes established the way the hub establishes them — from the region's
data and the hub's own routing, never from a kommun's message."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.schemas import payloads as _p
from hub.schemas import topics
from hub.schemas.base import TargetSystem
from hub.schemas.envelope import new_event
from hub.schemas.operations import AlertRaised, DeliveryRequested
from hub.schemas.payloads import PatientAdmitted
from hub.settings import ApiKey, Role
from hub.streams.dlq import dead_letter
from hub.streams.ingest import Ingestor
from hub.streams.log import Append
from tests.samples import HC, HSV, SOC, SOC_LULEA, WARD, WARD2, event, patient, t

DIRECTORY = f"""version: "trust-test"
units:
  - {{hsa_id: {WARD}, name: "Medicin 1", huvudman: region, kind: slutenvard, municipality: "2480",
     systems: [{{system: lifecare, from_date: 2018-01-01}}], ward_codes: [V00]}}
  - {{hsa_id: {WARD2}, name: "Medicin 2", huvudman: region, kind: slutenvard, municipality: "2480",
     systems: [{{system: lifecare, from_date: 2018-01-01}}], ward_codes: [V01]}}
  - {{hsa_id: {HC}, name: "Hälsocentral", huvudman: region, kind: oppenvard, municipality: "2480",
     systems: [{{system: lifecare, from_date: 2018-01-01}}]}}
  - {{hsa_id: {SOC}, name: "Umeå socialtjänst", huvudman: "2480", kind: socialtjanst, municipality: "2480",
     systems: [{{system: lifecare, from_date: 2018-01-01}}]}}
  - {{hsa_id: {HSV}, name: "Umeå hemsjukvård", huvudman: "2480", kind: kommunal_hsv, municipality: "2480",
     systems: [{{system: lifecare, from_date: 2018-01-01}}]}}
  - {{hsa_id: {SOC_LULEA}, name: "Luleå socialtjänst", huvudman: "2580", kind: socialtjanst,
     municipality: "2580", systems: [{{system: lifecare, from_date: 2018-01-01}}]}}
"""


def write_directory(folder: Path) -> Path:
    path = folder / "units.yaml"
    path.write_text(DIRECTORY, encoding="utf-8")
    return path


def admit(ingestor: Ingestor, episode: str, municipality: str, *, seq: int = 1, pnr: str | None = None) -> None:
    """The region's admission of a patient folkbokförd in ``municipality``."""
    who = patient(municipality)
    if pnr is not None:
        who = who.model_copy(update={"id": type(who.id).model_validate(pnr)})
    ingestor.submit_events([event(PatientAdmitted(patient=who, ward=WARD, admitted_at=t(0)), episode, seq=seq)])


# --- a small world of two kommuner's episodes, for the access, audit and canary tests ------------




EP_A = "VLL-2026-000101"  # Umeå's patient
EP_B = "VLL-2026-000202"  # Luleå's patient
PNR_A, NAME_A = "191212121212", "Tolvan Tolvansson"
PNR_B, NAME_B = "195502021230", "Bettan Lulesdotter"
ALERT_A, ALERT_B = "alert-a-1", "alert-b-1"
SECRET = "a-test-patient-key-secret"
KEYS = (
    ApiKey(key=SecretStr("ops"), principal="ops-anna", role=Role.OPS_ADMIN),
    ApiKey(key=SecretStr("region"), principal="region-vb", role=Role.REGION, huvudman="region:24"),
    ApiKey(key=SecretStr("region-nb"), principal="region-nb", role=Role.REGION, huvudman="region:25"),
    ApiKey(key=SecretStr("dash"), principal="dashboard", role=Role.DASHBOARD),
    ApiKey(key=SecretStr("umea"), principal="umea-kommun", role=Role.MUNICIPALITY, huvudman="kommun:2480"),
    ApiKey(key=SecretStr("lulea"), principal="lulea-kommun", role=Role.MUNICIPALITY, huvudman="kommun:2580"),
)
H = {k.principal: {"Authorization": f"Bearer {k.key.get_secret_value()}"} for k in KEYS}


def person(pnr: str, name: str, municipality: str) -> _p.Patient:
    base = patient(municipality)
    return base.model_copy(update={"id": type(base.id).model_validate(pnr), "name": name})


def world(now: _dt.datetime) -> list[Append]:
    """The records of the world: each kommun's patient admitted and notified by the region, an
    open alert each, a delivery routed to Luleå, dead letters holding Luleå's patient."""
    out: list[Append] = []
    for seq, (ep, pnr, name, kommun, soc) in enumerate(((EP_A, PNR_A, NAME_A, "2480", SOC),
                                                         (EP_B, PNR_B, NAME_B, "2580", SOC_LULEA)), 1):
        who = person(pnr, name, kommun)
        for n, payload in enumerate((
                _p.PatientAdmitted(patient=who, ward=WARD, admitted_at=t(0)),
                _p.AdmissionNoticeSent(notice_id=f"{ep}-N1", sender=WARD, patient=who, recipients=(soc,))), 1):
            out.append(Append(topics.EVENTS, ep, event(payload, ep, seq=seq * 10 + n).to_json()))
        alert = AlertRaised(alert_id=ALERT_A if ep == EP_A else ALERT_B, rule="kvittering", rule_source="test",
                            responsible_unit=soc, municipality=kommun, level=1, raised_at=t(10))
        ev = new_event(alert, episode_id=ep, source="/hub/engine", source_message_id=f"{ep}-alert",
                       time=t(10), received_at=t(10))
        out.append(Append(topics.ALERTS, ep, ev.to_json()))
    delivery = DeliveryRequested(delivery_id="d-b-1", idempotency_key="k-b-1", receiver=SOC_LULEA,
                                 system=TargetSystem.LIFECARE, message_type="admission_notice_sent",
                                 source_event_id="e-b")
    ev = new_event(delivery, episode_id=EP_B, source="/hub/engine", source_message_id="d-b-1", time=t(1),
                   received_at=t(1))
    out.append(Append(topics.deliveries("lifecare", SOC_LULEA), EP_B, ev.to_json()))
    raw_b = f'{{"type": "kvittering", "episode_id": "{EP_B}", "patient": "{PNR_B}", "name": "{NAME_B}"}}'.encode()
    out.append(dead_letter("kommun-2580", raw_b, [("type", "unknown type")], now))
    out.append(dead_letter("prator", raw_b, [("Personnummer", "not valid")], now))
    return out


def identifiers(pnr: str, name: str) -> tuple[str, ...]:
    """The forms in which a patient's identity could appear in a body."""
    return (pnr, pnr[2:], f"{pnr[:8]}-{pnr[8:]}", f"{pnr[2:8]}-{pnr[8:]}", name, *name.split())


def carries(text: str, *needles: str) -> list[str]:
    return [n for n in needles if n in text]


def sample_value(schema: dict[str, Any]) -> Any:
    """A plausible value for an OpenAPI parameter schema."""
    if schema.get("examples"):
        return schema["examples"][0]
    kind = schema.get("type")
    for alt in schema.get("anyOf", []):
        if alt.get("type") != "null":
            return sample_value(alt)
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": 1, "number": 1, "boolean": "true"}.get(str(kind), "x")
