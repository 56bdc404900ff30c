"""Settings of the HL7 v2 / MLLP adapter, and the per-sender profiles built from them."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.adapters.hl7.profile import Profile, field_ref

AckPolicy = Literal["accept", "strict"]
RESERVNUMMER_SCHEMES = ("national", "vasterbotten", "gavleborg", "stockholm")


def _check_charset(value: str | None) -> str | None:
    if value:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"not a character set Python knows: {value[:30]!r}") from None
    return value


def _check_patterns(value: list[str]) -> list[str]:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
    return value


def _check_schemes(value: list[str] | None) -> list[str] | None:
    for scheme in value or []:
        if scheme not in RESERVNUMMER_SCHEMES:
            raise ValueError(f"unknown reservnummer scheme {scheme[:20]!r}: one of {', '.join(RESERVNUMMER_SCHEMES)}")
    return value


class SenderSettings(BaseModel):
    """One sender's deviations from the [hl7] defaults (each unset field inherits them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_policy: AckPolicy | None = Field(
        default=None, description="accept: AA and hold what the hub cannot place; strict: AE for it.")
    visit_field: str | None = Field(
        default=None, description="Field with the vårdtillfälle id: PV1-19, PV1-50, PID-18 or a Z-segment field.")
    charset: str | None = Field(
        default=None, description="Decode with this Python codec whatever MSH-18 says (e.g. windows-1252).")
    reservnummer_schemes: list[str] | None = Field(
        default=None, description="Reservnummer schemes this sender's region uses (national, vasterbotten, "
                                  "gavleborg, stockholm); others are held as unidentified.")
    local_patient_ids: list[str] | None = Field(
        default=None, description="Regular expressions of the region's local reservnummer: held as unidentified.")

    @field_validator("charset")
    @classmethod
    def _charset(cls, value: str | None) -> str | None:
        return _check_charset(value)

    @field_validator("local_patient_ids")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        return _check_patterns(value) if value is not None else None

    @field_validator("visit_field")
    @classmethod
    def _visit(cls, value: str | None) -> str | None:
        if value is not None:
            field_ref(value)
        return value

    @field_validator("reservnummer_schemes")
    @classmethod
    def _schemes(cls, value: list[str] | None) -> list[str] | None:
        return _check_schemes(value)


class Hl7Settings(BaseModel):
    """The MLLP endpoint the EHR connects to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Listen for MLLP connections in `hub run`.")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=2575, ge=0, le=65535, description="TCP port (0: any free port).")
    max_message_bytes: int = Field(default=1_048_576, ge=1024, description="Larger frames are refused.")
    max_connections: int = Field(default=64, ge=1, description="Connections beyond this are closed at once.")
    max_buffered_bytes: int = Field(
        default=4_194_304, ge=2048,
        description="Bytes a connection may have read but not yet answered (frames sent ahead of their ACKs); "
                    "beyond it the hub stops reading that connection until it has answered.")
    idle_timeout_s: float = Field(default=300.0, gt=0, description="Close a connection idle this long.")
    tls_cert: Path | None = Field(default=None, description="PEM certificate: enables TLS.")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    other_events: Literal["accept", "reject"] = Field(
        default="accept", description="ADT events the hub does not map: AA and held (accept), or AR (reject).")
    ack_policy: AckPolicy = Field(
        default="accept", description="accept: AA (CA) once stored, holding what the hub cannot place (unknown "
                                      "ward, unidentified or foreign patient, no PV1 or visit number); "
                                      "strict: AE (CE) for those.")
    visit_field: str = Field(default="PV1-19", description="Field with the vårdtillfälle id (PV1-19, PV1-50, "
                                                           "PID-18 or a Z-segment field such as ZSV-1).")
    charset: str | None = Field(default=None, description="Decode with this Python codec whatever MSH-18 says "
                                                          "(for feeds that really send windows-1252).")
    reservnummer_schemes: list[str] | None = Field(
        default=None, description="Reservnummer schemes accepted (default: all the hub knows).")
    local_patient_ids: list[str] = Field(
        default_factory=list, description="Regular expressions of local reservnummer: held as unidentified.")
    senders: dict[str, SenderSettings] = Field(
        default_factory=dict, description='Per sender, keyed "<MSH-3>|<MSH-4>" or "<MSH-4>": overrides of the '
                                          "settings above.")
    wards: dict[str, str] = Field(default_factory=dict,
                                  description="PV1-3 code → HSA-id, used when the directory has no match.")
    drop_directory: Path | None = Field(default=None, description="Folder polled for HL7 files (FHS/BHS batches).")

    @field_validator("charset")
    @classmethod
    def _charset(cls, value: str | None) -> str | None:
        return _check_charset(value)

    @field_validator("local_patient_ids")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)

    @field_validator("visit_field")
    @classmethod
    def _visit(cls, value: str) -> str:
        field_ref(value)
        return value

    @field_validator("reservnummer_schemes")
    @classmethod
    def _schemes(cls, value: list[str] | None) -> list[str] | None:
        return _check_schemes(value)


def profiles(settings: Hl7Settings) -> Callable[[str, str], Profile]:
    """(MSH-3, MSH-4) → that sender's Profile (cached; "<MSH-3>|<MSH-4>" wins over "<MSH-4>")."""
    cache: dict[tuple[str, str], Profile] = {}

    def build(app: str, facility: str) -> Profile:
        own = settings.senders.get(f"{app}|{facility}") or settings.senders.get(facility) or SenderSettings()
        schemes = own.reservnummer_schemes if own.reservnummer_schemes is not None else settings.reservnummer_schemes
        patterns = own.local_patient_ids if own.local_patient_ids is not None else settings.local_patient_ids
        return Profile(ack_policy=own.ack_policy or settings.ack_policy,
                       visit=field_ref(own.visit_field or settings.visit_field),
                       charset=own.charset or settings.charset,
                       reservnummer_schemes=frozenset(schemes) if schemes is not None else None,
                       local_ids=tuple(re.compile(p) for p in patterns))

    def get(app: str, facility: str) -> Profile:
        key = (app, facility)
        found = cache.get(key)
        if found is None:
            found = build(app, facility)
            if len(cache) < 10_000:  # senders are few; a flood of made-up MSH-3/4 is not cached
                cache[key] = found
        return found

    return get
