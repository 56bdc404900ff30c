"""Shared pydantic configuration and small value types of the canonical model."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


class CanonicalModel(BaseModel):
    """Base of every canonical type: immutable, strict about unknown fields, and never echoing
    input values in validation errors (they may hold a personnummer)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_enum_values=False,
    )


class CareType(StrEnum):
    """Vårdtyp. Psykiatri has its own payment-liability rules and is reported apart (domain.md §2, §3)."""

    SOMATIC = "somatik"
    PSYCHIATRIC = "psykiatri"


class Service(StrEnum):
    """Insats after discharge; the A–E planning category follows from them (domain.md §1, Gävleborg table)."""

    PRIMARY_CARE = "regionens_oppenvard"
    SOCIAL_SERVICES = "socialtjanst"
    MUNICIPAL_HEALTH_CARE = "kommunal_hsv"
    NURSING_HOME = "sarskilt_boende"


class ColourTrack(StrEnum):
    """Färgspår from the planeringsunderlag; advice on whether, when and where the SIP happens."""

    BLUE = "bla"
    GREEN = "gron"
    YELLOW = "gul"
    RED = "rod"
    GREY = "gra"


class AnswerStatus(StrEnum):
    """How one section of the planeringsunderlag was answered."""

    ANSWERED = "besvarad"
    UNKNOWN = "vet_ej"
    MISSING = "saknas"


class UnitKind(StrEnum):
    """Kind of unit in the unit directory; decides which meddelanden it receives."""

    INPATIENT_WARD = "slutenvard"
    PRIMARY_CARE = "oppenvard"
    SOCIAL_SERVICES = "socialtjanst"
    MUNICIPAL_HEALTH_CARE = "kommunal_hsv"


class TargetSystem(StrEnum):
    """The system a unit reads its meddelanden in."""

    PRATOR = "prator"
    LIFECARE = "lifecare"
    MUNICIPAL = "kommun"


_ZERO = dt.timedelta(0)


def _to_utc(value: dt.datetime) -> dt.datetime:
    if value.utcoffset() == _ZERO:
        return value if value.tzinfo is dt.UTC else value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A point in time with an offset, normalised to UTC. Naive datetimes are refused: a local time
without its offset is ambiguous around the daylight-saving change."""
