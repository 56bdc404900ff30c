"""PID → the canonical patient (HL7 v2.5.1 chapter 3.4.2; domain.md §4 identifiers).

- PID-3 is a list of identifiers (CX). The Swedish one is chosen by its assigning authority
  (CX-4, an OID such as 1.2.752.129.2.1.3.1 or an HD ``&OID&ISO``) or its identifier type
  (CX-5: NNSWE, PN, …); an identifier without either is tried as a Swedish one. A Swedish
  identifier with a wrong check digit is the sender's to fix (AE); a list with no Swedish
  identifier (a foreign or unidentified patient, a local MRN only) is held.
- A reservnummer whose scheme the sender's region does not use, or one that matches only one of
  the region's local patterns, is held: the hub cannot identify the person.
- PID-5 name, PID-11 address (XAD-9 the kommunkod); an address that is not Swedish, without a
  kommunkod, is kept and the message held for routing (``address_foreign``).

Each function appends what it finds to ``errors`` (sender's faults) or ``holds``; values are
checked here once, so the payload is built without validating it again.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.parse import Message
from hub.adapters.hl7.profile import ADDRESS_FOREIGN, PATIENT_UNIDENTIFIED, REASONS, Hold, Profile
from hub.errors import IdentifierError
from hub.schemas import payloads as p
from hub.schemas.envelope import build_trusted
from hub.schemas.geography import is_known_kommunkod
from hub.schemas.identifiers import PatientIdentifier, PatientIdKind, parse_patient_id, validate_hsa_id

_PERSONAL_SHAPE = re.compile(r"(\d{2})?\d{6}[-+]?\d{4}")
_POSTAL = re.compile(r"\d{3} ?\d{2}")
_SWEDEN = frozenset({"", "SE", "SWE", "SVERIGE", "SWEDEN"})


_TWELVE = re.compile(r"\d{8}-?\d{4}")


@lru_cache(maxsize=65_536)
def _parse_twelve(value: str, authority: str | None) -> PatientIdentifier:
    return parse_patient_id(value, assigning_authority=authority)


def _parse(value: str, authority: str | None = None) -> PatientIdentifier:
    """parse_patient_id, cached for the 12-digit forms, which do not depend on the date (a
    patient's identifier recurs in every message of the episode)."""
    if _TWELVE.fullmatch(value):
        return _parse_twelve(value, authority)
    return parse_patient_id(value, assigning_authority=authority)


def too_long(segment: str, number: int, what: str, limit: int) -> Hl7Error:
    return Hl7Error(f"{segment}-{number} ({what}) is longer than {limit} characters", segment=segment,
                    field=number, code=E.DATA_TYPE_ERROR)


def patient_id(message: Message, profile: Profile, errors: list[Hl7Error], holds: list[Hold],
               segment: str = "PID", number: int = 3) -> PatientIdentifier | None:
    """The Swedish identifier among the repetitions of ``segment``-``number``."""
    reps = message.repetitions(segment, number)
    if not any(rep and rep[0].strip() for rep in reps):
        errors.append(Hl7Error(f"{segment}-{number} (patient identifier list) is required", segment=segment,
                               field=number, code=E.REQUIRED_FIELD_MISSING))
        return None
    marked: list[tuple[str, str | None]] = []
    plain: list[str] = []
    for rep in reps:
        value = rep[0].strip()
        if not value:
            continue
        parts = (rep[3] if len(rep) > 3 else "").split(message.separators.subcomponent)
        authority = parts[1] if len(parts) > 1 and parts[1] else parts[0]
        kind = (rep[4] if len(rep) > 4 else "").upper()
        if authority in profile.authorities:
            marked.append((value, authority))
        elif kind in profile.identifier_types:
            marked.append((value, None))
        elif not authority and not kind:
            plain.append(value)
    local = False
    for value, oid in marked:
        try:
            return _accepted(_parse(value, oid), profile, holds,
                             segment, number)
        except IdentifierError as exc:
            errors.append(Hl7Error(f"{segment}-{number}: {exc}", segment=segment, field=number,
                                   code=E.DATA_TYPE_ERROR))
            return None
    for value in plain:
        if any(pattern.fullmatch(value) for pattern in profile.local_ids):
            local = True
            continue
        try:
            return _accepted(_parse(value), profile, holds, segment, number)
        except IdentifierError as exc:
            if _PERSONAL_SHAPE.fullmatch(value):  # shaped as a personnummer: its check digit is wrong
                errors.append(Hl7Error(f"{segment}-{number}: {exc}", segment=segment, field=number,
                                       code=E.DATA_TYPE_ERROR))
                return None
    text = (f"{segment}-{number}: a local reservnummer of the region" if local
            else f"{segment}-{number}: {REASONS[PATIENT_UNIDENTIFIED]}")
    holds.append(Hold(PATIENT_UNIDENTIFIED, text, segment, number))
    return None


def _accepted(pid: PatientIdentifier, profile: Profile, holds: list[Hold], segment: str,
              number: int) -> PatientIdentifier | None:
    schemes = profile.reservnummer_schemes
    if pid.kind is PatientIdKind.RESERVNUMMER and schemes is not None and pid.scheme not in schemes:
        holds.append(Hold(PATIENT_UNIDENTIFIED, f"{segment}-{number}: a reservnummer of a scheme this "
                          "sender's region does not use", segment, number))
        return None
    return pid


def patient(message: Message, pid: PatientIdentifier, errors: list[Hl7Error], holds: list[Hold]) -> p.Patient:
    """PID-5, PID-11 and PD1-3 around the chosen identifier."""
    name = message.repetitions("PID", 5)
    first = name[0] if name else []
    full = " ".join(x for x in (first[1] if len(first) > 1 else "", first[0] if first else "") if x) or None
    if full is not None and len(full) > 200:
        errors.append(too_long("PID", 5, "patient name", 200))
        full = None
    address = kommun = None
    foreign = False
    xad = message.repetitions("PID", 11)
    if xad:
        a = xad[0] + [""] * 9
        street, city, postal, country = a[0].strip(), a[2].strip(), a[4].strip(), a[5].strip().upper()
        if a[8] and is_known_kommunkod(a[8]):
            kommun = a[8]
        swedish = country in _SWEDEN and (not postal or _POSTAL.fullmatch(postal) is not None)
        if not swedish:
            foreign = bool(street or city or postal)
        elif street and postal and city:
            if len(street) > 200 or len(city) > 100:
                errors.append(too_long("PID", 11, "street (200) or city (100)", 200 if len(street) > 200 else 100))
            else:
                address = build_trusted(p.Address, street=street, postal_code=postal, city=city)
    if foreign and kommun is None:
        holds.append(Hold(ADDRESS_FOREIGN, f"PID-11: {REASONS[ADDRESS_FOREIGN]}", "PID", 11))
    listed = message.component("PD1", 3, 10)
    unit = None
    if listed.startswith("SE"):
        try:
            unit = validate_hsa_id(listed)
        except ValueError:
            unit = None
    return build_trusted(p.Patient, id=pid, name=full, address=address, municipality=kommun, listed_unit=unit)
