"""Synthetic samples of every canonical payload (no real patient: personnummer 19121212-1212 is
the well-known test number; HSA-ids carry organisationsnummer with correct check digits). They
live in hub/schemas/examples.py, where the published contracts take their examples from too."""

from __future__ import annotations

from hub.schemas.base import CareType
from hub.schemas.examples import (
    HC,
    HSV,
    PNR,
    SOC,
    SOC_LULEA,
    T0,
    WARD,
    WARD2,
    event,
    patient,
    sample_payloads,
    t,
)

CARE_TYPES = tuple(CareType)

__all__ = ["CARE_TYPES", "HC", "HSV", "PNR", "SOC", "SOC_LULEA", "T0", "WARD", "WARD2", "event", "patient",
           "sample_payloads", "t"]

