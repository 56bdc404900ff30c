"""HL7 v2 ADT → canonical SVU events. The one module to replace when a region's interface
specification (COSMIC or another EHR) says otherwise (domain.md §5: no public Swedish ADT
profile exists; this mapping follows HL7 v2.5.1 field meanings and domain.md's proposals).

- PID → the patient (see :mod:`hub.adapters.hl7.patient`); every event of a message with a PID
  carries it.
- PV1-3 assigned location (PL-1 point of care, PL-4 facility) → the ward's HSA-id via the unit
  directory; the visit number (PV1-19 unless the sender's profile names another field) → the
  episode id ``<MSH-4>-<visit number>``. No episode id is ever built from an empty or null
  (``""``) visit number; an A40 without one is keyed by its own control id.
- PV1-44/45 admit and discharge time, PV2-9 expected discharge date, PV1-10 hospital service
  containing "PSY" → psykiatri.
- Times without an offset are Europe/Stockholm local time.

Outside input is validated here, once: every value that goes into a payload is checked (lengths,
patterns, identifiers, times, HSA-ids from the directory), so the payload and its envelope are
built without pydantic validating them again. What the sender must fix raises Hl7Error (all of
a message's errors at once); what the hub cannot place yet comes back as ``Parsed.holds``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.parse import (
    NULL,
    STOCKHOLM,
    SUPPORTED_VERSIONS,
    Message,
    Separators,
    WardLookup,
    hl7_time,
    read_msh,
    split,
)
from hub.adapters.hl7.patient import patient, patient_id, too_long
from hub.adapters.hl7.profile import (
    DEFAULT,
    PV1_MISSING,
    REASONS,
    SOFT,
    TRIGGER_UNMAPPED,
    VISIT_MISSING,
    WARD_UNKNOWN,
    Hold,
    Profile,
)
from hub.schemas import payloads as p
from hub.schemas.base import CareType
from hub.schemas.envelope import Envelope, build_trusted, new_event
from hub.schemas.identifiers import PatientIdentifier, contains_personal_id

TRIGGERS = ("A01", "A02", "A03", "A04", "A08", "A11", "A12", "A13", "A21", "A22", "A40")
_EPISODE_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WARD_SUBJECT = re.compile(r"[A-Za-z0-9 ._-]{1,32}")


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
    charset: str = ""

    @property
    def source(self) -> str:
        return f"/ehr/{_safe(self.sending_application)}/{_safe(self.sending_facility)}"

    @property
    def sender(self) -> str:
        """``<MSH-3>|<MSH-4>``: the key of the sender's settings and of its held counts."""
        return f"{self.sending_application}|{self.sending_facility}"[:120]

    @property
    def source_message_id(self) -> str:
        return f"{self.sending_application}|{self.sending_facility}|{self.control_id}"[:200]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A well-formed message: its header and canonical events, or (none and) why it is held.
    ``episode`` is the episode id when one could be built (held messages are released in order
    per episode)."""

    header: Header
    events: tuple[Envelope, ...]
    holds: tuple[Hold, ...] = ()
    episode: str | None = None


def _safe(text: str) -> str:
    return _SAFE.sub("-", text).strip("-") or "unknown"


def header(message: Message) -> Header:
    fields = message.segment("MSH") or []
    sep = message.separators
    escaped = sep.escape in (fields[3] + fields[4] + fields[10] if len(fields) > 10 else sep.escape)
    if escaped or len(fields) < 13 or sep.repetition in fields[9]:
        m = message.component
        return Header(m("MSH", 3), m("MSH", 4), m("MSH", 5), m("MSH", 6), m("MSH", 10), m("MSH", 9, 2),
                      m("MSH", 9, 1), m("MSH", 12), m("MSH", 11), m("MSH", 15), m("MSH", 16), m("MSH", 18))
    c = sep.component
    f = [x.split(c, 1)[0] if c in x else x for x in fields[:19]] + [""] * (19 - min(len(fields), 19))
    f = ["" if x == NULL else x for x in f]
    msg_type = fields[9].split(c)
    trigger = msg_type[1] if len(msg_type) > 1 and msg_type[1] != NULL else ""
    return Header(f[3], f[4], f[5], f[6], f[10], trigger, f[9], f[12], f[11], f[15], f[16], f[18])


def episode_id(facility: str, visit: str, field: str = "PV1-19") -> str:
    """``<facility>-<visit number>``, cleaned to the episode-id alphabet."""
    if not visit:
        raise Hl7Error(f"{field}: no episode id without a visit number", segment=field[:3],
                       field=int(field[4:].split(".")[0]), code=E.REQUIRED_FIELD_MISSING)
    raw = _EPISODE_CHARS.sub("-", f"{facility}-{visit}").strip("-._:")[:128]
    if not raw or contains_personal_id(raw):
        raise Hl7Error(f"{field}: the visit number must not be (or contain) a personnummer",
                       segment=field[:3], field=int(field[4:].split(".")[0]), code=E.DATA_TYPE_ERROR)
    return raw


def _time(message: Message, segment: str, number: int, errors: list[Hl7Error]) -> dt.datetime | None:
    value = message.component(segment, number)
    if not value:
        return None
    try:
        return hl7_time(value, segment, number)
    except Hl7Error as exc:
        errors.append(exc)
        return None


def _check_header(h: Header) -> None:
    errors = []
    if not h.control_id:
        errors.append(Hl7Error("MSH-10 (message control id) is required", segment="MSH", field=10,
                               code=E.REQUIRED_FIELD_MISSING))
    elif len(h.control_id) > 199:
        errors.append(too_long("MSH", 10, "message control id", 199))
    if not h.message_type:
        errors.append(Hl7Error("MSH-9 (message type) is required", segment="MSH", field=9,
                               code=E.REQUIRED_FIELD_MISSING))
    if h.version not in SUPPORTED_VERSIONS:
        errors.append(Hl7Error(f"MSH-12: version '{h.version[:10]}' is not supported (2.3–2.8)", segment="MSH",
                               field=12, code=E.UNSUPPORTED_VERSION, reject=True))
    if h.processing_id and h.processing_id[:1] not in ("P", "T", "D"):
        errors.append(Hl7Error(f"MSH-11: processing id '{h.processing_id[:5]}' is not P, T or D", segment="MSH",
                               field=11, code=E.UNSUPPORTED_PROCESSING_ID, reject=True))
    if h.message_type and h.message_type != "ADT":
        errors.append(Hl7Error(f"MSH-9: message type '{h.message_type[:10]}' is not ADT", segment="MSH",
                               field=9, code=E.UNSUPPORTED_MESSAGE_TYPE, reject=True))
    if errors:
        errors.sort(key=lambda e: not e.reject)  # a reject decides the acknowledgement code
        raise Hl7Error.several(errors)


def canonical(raw: bytes, lookup: WardLookup, received_at: dt.datetime, profile: Profile = DEFAULT, *,
              force: bool = False) -> Parsed:
    """Parse one ADT message into canonical events. Hl7Error (naming segment and field, every
    error of the message) for what the sender must fix; ``Parsed.holds`` for what the hub cannot
    place yet. ``force`` (an operator's release) processes despite the soft reasons."""
    message = split(raw, charset=profile.charset)
    h = header(message)
    _check_header(h)
    trigger = h.trigger
    if trigger not in TRIGGERS:
        return Parsed(h, (), (Hold(TRIGGER_UNMAPPED, f"MSH-9: ADT^{trigger[:3]} is not mapped", "MSH", 9,
                                   subject=f"ADT^{_safe(trigger[:3])}"),))
    errors: list[Hl7Error] = []
    holds: list[Hold] = []
    if message.segment("PID") is None:
        raise Hl7Error("PID segment is required", segment="PID", code=E.SEGMENT_SEQUENCE)
    pid = patient_id(message, profile, errors, holds)
    who = patient(message, pid, errors, holds) if pid is not None else None
    when = (_time(message, "EVN", 6, errors) or _time(message, "EVN", 2, errors)
            or _time(message, "MSH", 7, errors))
    has_pv1 = message.segment("PV1") is not None
    visit_seg, visit_no, visit_comp = profile.visit
    visit = message.component(visit_seg, visit_no, visit_comp)
    if trigger == "A40":
        visit = visit or message.component("MRG", 5, 1)
    episode = None
    if len(visit) > 64:
        errors.append(too_long(visit_seg, visit_no, "visit number", 64))
    elif visit:
        try:
            episode = episode_id(h.sending_facility, visit, profile.visit_name)
        except Hl7Error as exc:
            errors.append(exc)
    elif trigger == "A40":
        merge = hashlib.blake2b(h.control_id.encode(), digest_size=8).hexdigest()
        episode = episode_id(h.sending_facility, f"merge-{merge}")
    elif has_pv1 or visit_seg != "PV1":
        holds.append(Hold(VISIT_MISSING, f"{profile.visit_name}: {REASONS[VISIT_MISSING]}", visit_seg, visit_no))
    if not has_pv1 and trigger != "A40":
        holds.append(Hold(PV1_MISSING, f"PV1: {REASONS[PV1_MISSING]}", "PV1"))
    payload = _payload(message, trigger, lookup, when, pid, who, errors, holds) if has_pv1 or trigger == "A40" else None
    if errors:
        raise Hl7Error.several(errors)
    if holds and not (force and all(x.reason in SOFT for x in holds)):
        return Parsed(h, (), tuple(holds), episode)
    assert payload is not None
    assert episode is not None
    at = (when or received_at).astimezone(dt.UTC)
    event = new_event(payload, episode_id=episode, source=h.source, source_message_id=h.source_message_id,
                      time=at, received_at=received_at.astimezone(dt.UTC), trusted=True)
    return Parsed(h, (event,), (), episode)


def _ward(message: Message, lookup: WardLookup, holds: list[Hold], number: int = 3) -> str | None:
    code = message.component("PV1", number, 1)
    facility = message.component("PV1", number, 4) or None
    hsa = lookup(code, facility) if code else None
    if hsa is None:
        subject = code if _WARD_SUBJECT.fullmatch(code) and not contains_personal_id(code) else "?"
        text = f"PV1-{number}: ward '{subject}' is not in the unit directory" if code else \
            f"PV1-{number}: no point of care, so no ward"
        holds.append(Hold(WARD_UNKNOWN, text, "PV1", number, subject=subject))
    return hsa


def _length(value: str, limit: int, number: int, what: str, errors: list[Hl7Error]) -> str | None:
    if len(value) > limit:
        errors.append(too_long("PV1", number, what, limit))
        return None
    return value or None


def _payload(message: Message, trigger: str, lookup: WardLookup, event_time: dt.datetime | None,
             pid: PatientIdentifier | None, who: p.Patient | None, errors: list[Hl7Error],
             holds: list[Hold]) -> p.Payload | None:
    if trigger == "A40":
        merged = patient_id(message, DEFAULT, errors, holds, "MRG", 1) if message.segment("MRG") else None
        if message.segment("MRG") is None:
            errors.append(Hl7Error("MRG-1 (prior patient identifier) is required", segment="MRG", field=1,
                                   code=E.REQUIRED_FIELD_MISSING))
        if pid is None or merged is None:
            return None
        return build_trusted(p.PatientRecordsMerged, patient=pid, merged=merged)
    admitted = _time(message, "PV1", 44, errors)
    discharged = _time(message, "PV1", 45, errors)
    expected = _time(message, "PV2", 9, errors)
    estimated = expected.astimezone(STOCKHOLM).date() if expected else None
    care = CareType.PSYCHIATRIC if "PSY" in message.component("PV1", 10).upper() else CareType.SOMATIC
    now = event_time or admitted or discharged
    if now is None and not errors:
        errors.append(Hl7Error("EVN-2 (recorded date/time) is required when PV1-44/45 are empty", segment="EVN",
                               field=2, code=E.REQUIRED_FIELD_MISSING))
    ward = _ward(message, lookup, holds)
    disposition = _length(message.component("PV1", 36, 1), 64, 36, "discharge disposition", errors)
    destination = _length(message.component("PV1", 37, 1), 200, 37, "discharged to location", errors)
    visit = message.component("PV1", 19, 1)
    if ward is None or who is None or now is None or errors:
        return None
    c = _construct
    match trigger:
        case "A01":
            return c(p.PatientAdmitted, patient=who, ward=ward, admitted_at=admitted or now, care_type=care,
                     visit_number=visit if len(visit) <= 64 else None, estimated_discharge=estimated)
        case "A04":
            return c(p.PatientRegistered, patient=who, unit=ward, registered_at=admitted or now)
        case "A02":
            prior = message.component("PV1", 6, 1)
            from_ward = lookup(prior, message.component("PV1", 6, 4) or None) if prior else None
            return c(p.PatientTransferred, patient=who, from_ward=from_ward, to_ward=ward, transferred_at=now)
        case "A03":
            return c(p.PatientDischarged, patient=who, ward=ward, discharged_at=discharged or now,
                     disposition=disposition, destination=destination)
        case "A08":
            return c(p.PatientInformationUpdated, patient=who, ward=ward, updated_at=now,
                     estimated_discharge=estimated)
        case "A11":
            return c(p.AdmissionCancelled, patient=who, ward=ward, cancelled_at=now)
        case "A12":
            return c(p.TransferCancelled, patient=who, ward=ward, cancelled_at=now)
        case "A13":
            return c(p.DischargeCancelled, patient=who, ward=ward, cancelled_at=now)
        case "A21":
            return c(p.LeaveOfAbsenceStarted, patient=who, ward=ward, started_at=now)
        case _:
            return c(p.LeaveOfAbsenceEnded, patient=who, ward=ward, ended_at=now)


def _construct(cls: type[p.Payload], **values: object) -> p.Payload:
    """A payload from values this module checked: built without validating them a second time."""
    return build_trusted(cls, **values)




def lenient_header(raw: bytes) -> tuple[Header, Separators] | None:
    """MSH read as far as it can be (for MSA-2 and the ACK's separators), also when MSH-2 or
    the rest of the message is malformed; None when there is no MSH at all."""
    found = read_msh(raw)
    if found is None:
        return None
    sep, fields = found
    f = [x.split(sep.component, 1)[0] for x in fields[:18]] + [""] * max(0, 18 - len(fields))
    f = ["" if x == NULL else x for x in f]
    kind = fields[8].split(sep.component) if len(fields) > 8 else [""]
    trigger = kind[1] if len(kind) > 1 else ""
    return Header(f[2], f[3], f[4], f[5], f[9][:199], trigger[:3], kind[0][:3], f[11][:10], f[10][:3], f[14][:2],
                  f[15][:2], f[17][:30]), sep
