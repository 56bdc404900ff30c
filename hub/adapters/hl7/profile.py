"""How one sender's feed is read (its profile), and why a well-formed message can be held.

Swedish ADT profiles differ (domain.md §5): the vårdtillfälle id is in PV1-19 in most feeds,
in PV1-50, PID-18 or a Z-segment in others; reservnummer patterns are the region's. A message
the hub cannot place yet is not the sender's fault: it is acknowledged and *held* with one of
the reasons below (architecture.md "Accept, hold, refuse"); the ``strict`` ACK policy answers
AE for the same reasons instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error
from hub.schemas.identifiers import OID_PERSONNUMMER, OID_RESERVNUMMER_SLL, OID_SAMORDNINGSNUMMER

WARD_UNKNOWN = "ward_unknown"
PATIENT_UNIDENTIFIED = "patient_unidentified"
ADDRESS_FOREIGN = "address_foreign"
VISIT_MISSING = "visit_missing"
PV1_MISSING = "pv1_missing"
TRIGGER_UNMAPPED = "trigger_unmapped"
EPISODE_WAITING = "episode_waiting"

REASONS = {
    WARD_UNKNOWN: "ward not in the unit directory",
    PATIENT_UNIDENTIFIED: "no Swedish patient identifier the hub accepts",
    ADDRESS_FOREIGN: "foreign address and no kommunkod: kommun unknown",
    VISIT_MISSING: "no visit number (vårdtillfälle id)",
    PV1_MISSING: "no PV1 segment",
    TRIGGER_UNMAPPED: "ADT event the hub does not map",
    EPISODE_WAITING: "an earlier message of the same episode is held",
}
"""Held reasons and their text (no patient data)."""

SOFT = frozenset({ADDRESS_FOREIGN})
"""Reasons an operator's release overrides: the message is then processed as it is."""

_CODES = {WARD_UNKNOWN: E.UNKNOWN_KEY, PATIENT_UNIDENTIFIED: E.UNKNOWN_KEY, ADDRESS_FOREIGN: E.DATA_TYPE_ERROR,
          VISIT_MISSING: E.REQUIRED_FIELD_MISSING, PV1_MISSING: E.SEGMENT_SEQUENCE,
          TRIGGER_UNMAPPED: E.UNSUPPORTED_EVENT, EPISODE_WAITING: E.UNKNOWN_KEY}


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a well-formed message cannot be used yet. ``subject`` narrows the reason for its
    alert (the ward code, the trigger), never patient data."""

    reason: str
    text: str
    segment: str = "MSH"
    field: int | None = None
    subject: str = ""

    def as_error(self) -> Hl7Error:
        """The same finding as an application error (the ``strict`` policy)."""
        return Hl7Error(self.text, segment=self.segment, field=self.field, code=_CODES.get(self.reason, E.UNKNOWN_KEY))


_FIELD_REF = re.compile(r"([A-Z][A-Z0-9]{2})-(\d{1,3})(?:\.(\d{1,2}))?")


def field_ref(text: str) -> tuple[str, int, int]:
    """``PV1-19``, ``PV1-50``, ``PID-18`` or ``ZSV-1.2`` → (segment, field, component)."""
    m = _FIELD_REF.fullmatch(text.strip().upper())
    if m is None:
        raise ValueError(f"not a field reference like PV1-19 or ZSV-1.2: {text[:20]!r}")
    return m.group(1), int(m.group(2)), int(m.group(3) or 1)


SWEDISH_AUTHORITIES = frozenset({OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER, OID_RESERVNUMMER_SLL})
SWEDISH_TYPES = frozenset({"NNSWE", "PN", "PNR", "SN", "RN"})


@dataclass(frozen=True, slots=True)
class Profile:
    """A sender's reading rules (settings ``[hl7]`` and ``[hl7.senders."<MSH-3>|<MSH-4>"]``)."""

    ack_policy: str = "accept"
    visit: tuple[str, int, int] = ("PV1", 19, 1)
    charset: str | None = None
    authorities: frozenset[str] = SWEDISH_AUTHORITIES
    identifier_types: frozenset[str] = SWEDISH_TYPES
    reservnummer_schemes: frozenset[str] | None = None
    local_ids: tuple[re.Pattern[str], ...] = field(default=())

    @property
    def visit_name(self) -> str:
        seg, number, comp = self.visit
        return f"{seg}-{number}" + (f".{comp}" if comp != 1 else "")


DEFAULT = Profile()
