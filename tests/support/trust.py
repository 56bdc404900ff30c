"""Helpers for tests of the trust boundary: a small unit directory (a region ward and units of
Umeå and Luleå) and episodes established the way the hub establishes them — from the region's
data and the hub's own routing, never from a kommun's message."""

from __future__ import annotations

from pathlib import Path

from hub.schemas.payloads import PatientAdmitted
from hub.streams.ingest import Ingestor
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
