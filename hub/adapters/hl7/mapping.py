"""HL7 v2 ADT → canonical SVU events. The one module to replace when a region's interface
specification (COSMIC or another EHR) says otherwise (domain.md §5: no public Swedish ADT
profile exists; this mapping follows HL7 v2.5.1 field meanings and domain.md's proposals).

- PID-3 patient identifiers (CX; CX-4 assigning authority, an OID or name) → personnummer,
  samordningsnummer or reservnummer; PID-5 name; PID-11 address (XAD-9 a kommunkod).
- PV1-3 assigned location (PL-1 point of care, PL-4 facility) → the ward's HSA-id via the unit
  directory; PV1-19 visit number → the episode id ``<MSH-4>-<PV1-19>``.
- PV1-44/45 admit and discharge time, PV2-9 expected discharge date, PV1-10 hospital service
  containing "PSY" → psykiatri.
- Times without an offset are Europe/Stockholm local time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.parse import STOCKHOLM, SUPPORTED_VERSIONS, Message, WardLookup, hl7_time, split
from hub.errors import IdentifierError
from hub.schemas import payloads as p
from hub.schemas.base import CareType
from hub.schemas.envelope import Envelope, new_event
from hub.schemas.geography import is_known_kommunkod
from hub.schemas.identifiers import PatientIdentifier, contains_personal_id, parse_patient_id

TRIGGERS = ("A01", "A02", "A03", "A04", "A08", "A11", "A12", "A13", "A21", "A22", "A40")
_EPISODE_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")


@dataclass(frozen=True, slots=True)
class Header:
    """What the acknowledgement needs from MSH, readable even when the rest is bad."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    control_id: str
    trigger: str
    message_type: str
    version: str
    processing_id: str
    accept_ack: str
    application_ack: str

    @property
    def source(self) -> str:
        return f"/ehr/{_safe(self.sending_application)}/{_safe(self.sending_facility)}"

    @property
    def source_message_id(self) -> str:
        return f"{self.sending_application}|{self.sending_facility}|{self.control_id}"[:200]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message the hub accepted: its header and canonical events (none for other triggers)."""

    header: Header
    events: tuple[Envelope, ...]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "unknown"


def header(message: Message) -> Header:
    m = message.component
    return Header(m("MSH", 3), m("MSH", 4), m("MSH", 5), m("MSH", 6), m("MSH", 10), m("MSH", 9, 2),
                  m("MSH", 9, 1), m("MSH", 12), m("MSH", 11), m("MSH", 15), m("MSH", 16))


def _required(message: Message, segment: str, number: int, value: str, what: str) -> str:
    if not value:
        raise Hl7Error(f"{segment}-{number} ({what}) is required", segment=segment, field=number,
                       code=E.REQUIRED_FIELD_MISSING)
    return value


def _patient_id(message: Message) -> PatientIdentifier:
    reps = message.repetitions("PID", 3)
    if not reps:
        raise Hl7Error("PID-3 (patient identifier list) is required", segment="PID", field=3,
                       code=E.REQUIRED_FIELD_MISSING)
    errors = []
    for rep in reps:
        value = rep[0] if rep else ""
        authority = rep[3] if len(rep) > 3 else ""
        oid = authority.split(message.separators.subcomponent)
        assigning = oid[1] if len(oid) > 1 and oid[1] else oid[0]
        try:
            return parse_patient_id(value, assigning_authority=assigning or None)
        except IdentifierError as exc:
            errors.append(str(exc))
    raise Hl7Error(f"PID-3: {errors[0]}", segment="PID", field=3, code=E.DATA_TYPE_ERROR)


def _patient(message: Message) -> p.Patient:
    name = message.repetitions("PID", 5)
    full = " ".join(x for x in (name[0][1] if name and len(name[0]) > 1 else "",
                                name[0][0] if name else "") if x) or None
    address = None
    kommun = None
    xad = message.repetitions("PID", 11)
    if xad:
        a = xad[0] + [""] * 9
        if a[0] and a[4] and a[2]:
            try:
                address = p.Address(street=a[0], postal_code=a[4], city=a[2])
            except ValueError:
                raise Hl7Error("PID-11: the address needs street, a Swedish postal code and city",
                               segment="PID", field=11, code=E.DATA_TYPE_ERROR) from None
        if a[8] and is_known_kommunkod(a[8]):
            kommun = a[8]
    listed = message.component("PD1", 3, 10) or None
    return p.Patient(id=_patient_id(message), name=full, address=address, municipality=kommun,
                     listed_unit=listed if listed and listed.startswith("SE") else None)


def _ward(message: Message, lookup: WardLookup, number: int = 3) -> str:
    code = message.component("PV1", number, 1)
    facility = message.component("PV1", number, 4) or None
    _required(message, "PV1", number, code, "assigned patient location")
    hsa = lookup(code, facility)
    if hsa is None:
        raise Hl7Error(f"PV1-{number}: ward '{code}' is not in the unit directory", segment="PV1",
                       field=number, code=E.UNKNOWN_KEY)
    return hsa


def episode_id(facility: str, visit: str) -> str:
    """``<facility>-<visit number>``, cleaned to the episode-id alphabet."""
    raw = _EPISODE_CHARS.sub("-", f"{facility}-{visit}").strip("-._:")[:128]
    if not raw or contains_personal_id(raw):
        raise Hl7Error("PV1-19: the visit number must not be (or contain) a personnummer",
                       segment="PV1", field=19, code=E.DATA_TYPE_ERROR)
    return raw


def canonical(raw: bytes, lookup: WardLookup, received_at: dt.datetime) -> Parsed:
    """Parse one ADT message into canonical events. Hl7Error names segment and field."""
    message = split(raw)
    h = header(message)
    _required(message, "MSH", 10, h.control_id, "message control id")
    _required(message, "MSH", 9, h.message_type, "message type")
    if h.version not in SUPPORTED_VERSIONS:
        raise Hl7Error(f"MSH-12: version '{h.version[:10]}' is not supported (2.3–2.8)", segment="MSH",
                       field=12, code=E.UNSUPPORTED_VERSION, reject=True)
    if h.processing_id and h.processing_id[:1] not in ("P", "T", "D"):
        raise Hl7Error(f"MSH-11: processing id '{h.processing_id[:5]}' is not P, T or D", segment="MSH",
                       field=11, code=E.UNSUPPORTED_PROCESSING_ID, reject=True)
    if h.message_type != "ADT":
        raise Hl7Error(f"MSH-9: message type '{h.message_type[:10]}' is not ADT", segment="MSH", field=9,
                       code=E.UNSUPPORTED_MESSAGE_TYPE, reject=True)
    if h.trigger not in TRIGGERS:
        return Parsed(h, ())
    if message.segment("PID") is None:
        raise Hl7Error("PID segment is required", segment="PID", code=E.SEGMENT_SEQUENCE)
    if message.segment("PV1") is None and h.trigger != "A40":
        raise Hl7Error("PV1 segment is required", segment="PV1", code=E.SEGMENT_SEQUENCE)
    when = (hl7_time(message.component("EVN", 6), "EVN", 6) or hl7_time(message.component("EVN", 2), "EVN", 2)
            or hl7_time(message.component("MSH", 7), "MSH", 7))
    payload = _payload(message, h.trigger, lookup, when)
    visit = message.component("PV1", 19, 1)
    if h.trigger == "A40":
        visit = visit or message.component("MRG", 5, 1)
    _required(message, "PV1", 19, visit, "visit number")
    event = new_event(payload, episode_id=episode_id(h.sending_facility, visit), source=h.source,
                      source_message_id=h.source_message_id, time=when or received_at, received_at=received_at)
    return Parsed(h, (event,))


def _payload(message: Message, trigger: str, lookup: WardLookup, event_time: dt.datetime | None) -> p.Payload:
    t = hl7_time
    admitted = t(message.component("PV1", 44), "PV1", 44)
    discharged = t(message.component("PV1", 45), "PV1", 45)
    expected = t(message.component("PV2", 9), "PV2", 9)
    care = CareType.PSYCHIATRIC if "PSY" in message.component("PV1", 10).upper() else CareType.SOMATIC
    now = event_time or admitted or discharged
    if now is None:
        raise Hl7Error("EVN-2 (recorded date/time) is required when PV1-44/45 are empty", segment="EVN",
                       field=2, code=E.REQUIRED_FIELD_MISSING)
    if trigger == "A40":
        merged = message.repetitions("MRG", 1)
        if not merged or not merged[0][0]:
            raise Hl7Error("MRG-1 (prior patient identifier) is required", segment="MRG", field=1,
                           code=E.REQUIRED_FIELD_MISSING)
        try:
            old = parse_patient_id(merged[0][0])
        except IdentifierError as exc:
            raise Hl7Error(f"MRG-1: {exc}", segment="MRG", field=1, code=E.DATA_TYPE_ERROR) from None
        return p.PatientRecordsMerged(patient=_patient_id(message), merged=old)
    ward = _ward(message, lookup)
    match trigger:
        case "A01":
            return p.PatientAdmitted(patient=_patient(message), ward=ward, admitted_at=admitted or now,
                                     care_type=care, visit_number=message.component("PV1", 19, 1),
                                     estimated_discharge=expected.astimezone(STOCKHOLM).date() if expected else None)
        case "A04":
            return p.PatientRegistered(patient=_patient(message), unit=ward, registered_at=admitted or now)
        case "A02":
            prior = message.component("PV1", 6, 1)
            from_ward = lookup(prior, message.component("PV1", 6, 4) or None) if prior else None
            return p.PatientTransferred(from_ward=from_ward, to_ward=ward, transferred_at=now)
        case "A03":
            return p.PatientDischarged(ward=ward, discharged_at=discharged or now,
                                       disposition=message.component("PV1", 36, 1) or None,
                                       destination=message.component("PV1", 37, 1) or None)
        case "A08":
            return p.PatientInformationUpdated(patient=_patient(message), ward=ward, updated_at=now,
                                               estimated_discharge=expected.astimezone(STOCKHOLM).date()
                                               if expected else None)
        case "A11":
            return p.AdmissionCancelled(ward=ward, cancelled_at=now)
        case "A12":
            return p.TransferCancelled(ward=ward, cancelled_at=now)
        case "A13":
            return p.DischargeCancelled(ward=ward, cancelled_at=now)
        case "A21":
            return p.LeaveOfAbsenceStarted(ward=ward, started_at=now)
        case _:
            return p.LeaveOfAbsenceEnded(ward=ward, ended_at=now)
