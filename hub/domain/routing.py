"""The planning category A–E and who must receive each meddelande (domain.md §1, the Gävleborg
table, S2): the category follows from the insatser the patient is expected to need after
discharge, and decides the receivers, the fast vårdkontakt, the SIP, the utskrivningsklar notice
and whether payment liability can apply. Category A is outside the law."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from hub.domain.directory import UnitDirectory
from hub.schemas.base import Service, TargetSystem, UnitKind
from hub.schemas.payloads import Needs


class Category(StrEnum):
    """Planning category of the Gävleborg table."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    BC = "B+C"
    CD = "C+D"
    E = "E"


@dataclass(frozen=True, slots=True)
class Requirements:
    """The table's columns for one category."""

    admission_notice: bool
    receiver_kinds: frozenset[UnitKind]
    care_contact: bool
    sip: bool
    ready_notice: bool
    payment_liability: bool
    in_scope: bool


_P, _S, _H = UnitKind.PRIMARY_CARE, UnitKind.SOCIAL_SERVICES, UnitKind.MUNICIPAL_HEALTH_CARE

_TABLE: dict[Category, Requirements] = {
    Category.A: Requirements(False, frozenset(), False, False, False, False, in_scope=False),
    # B: "JA if läkare judges so"; receivers blank in the source: regionens öppenvård; the
    # utskrivningsklar notice is due when a notice was sent, which is when B is known here.
    Category.B: Requirements(True, frozenset({_P}), False, False, True, False, in_scope=True),
    Category.C: Requirements(True, frozenset({_S}), False, False, True, True, in_scope=True),
    Category.D: Requirements(True, frozenset({_H, _P}), True, True, True, True, in_scope=True),
    Category.BC: Requirements(True, frozenset({_P, _S}), True, True, True, True, in_scope=True),
    Category.CD: Requirements(True, frozenset({_S, _H, _P}), True, True, True, True, in_scope=True),
    Category.E: Requirements(True, frozenset({_S, _H, _P}), True, True, True, True, in_scope=True),
}


def categorise(needs: Needs) -> Category:
    """The category from the insatser needed after discharge.

    Expected insatser decide; existing ones that go on count as expected too — a patient who
    has hemtjänst before admission and goes home to it still needs the kommun informed. Särskilt
    boende is category E. Öppenvård together with kommunal hälso- och sjukvård is D (whose
    receivers are kommunal HSV and öppenvård); all three kinds is C+D.
    """
    needed = set(needs.expected) | set(needs.existing)
    if Service.NURSING_HOME in needed:
        return Category.E
    social = Service.SOCIAL_SERVICES in needed
    health = Service.MUNICIPAL_HEALTH_CARE in needed
    primary = Service.PRIMARY_CARE in needed
    if social and health:
        return Category.CD
    if health:
        return Category.D
    if social and primary:
        return Category.BC
    if social:
        return Category.C
    if primary:
        return Category.B
    return Category.A


def requirements(category: Category) -> Requirements:
    """The table's row for a category."""
    return _TABLE[category]


@dataclass(frozen=True, slots=True)
class Receiver:
    """One unit a meddelande goes to, on the system it uses on the message's date."""

    hsa_id: str
    kind: UnitKind
    system: TargetSystem
    municipality: str | None


@dataclass(frozen=True, slots=True)
class Unroutable:
    """A receiver the category needs but the directory cannot name."""

    kind: UnitKind
    reason: str


def receivers(category: Category, *, municipality: str | None, listed_unit: str | None,
              directory: UnitDirectory, on: dt.date) -> tuple[list[Receiver], list[Unroutable]]:
    """Receivers the category requires: the folkbokföringskommun's units of the needed kinds,
    and the patient's listed hälsocentral for the öppenvård."""
    found: list[Receiver] = []
    missing: list[Unroutable] = []
    for kind in sorted(requirements(category).receiver_kinds):
        if kind is UnitKind.PRIMARY_CARE:
            unit = directory.get(listed_unit) if listed_unit else None
            if unit is None:
                missing.append(Unroutable(kind, "the patient's listed hälsocentral is "
                                          + ("not in the directory" if listed_unit else "not known")))
                continue
            units = [unit]
        else:
            if municipality is None:
                missing.append(Unroutable(kind, "the patient's folkbokföringskommun is not known"))
                continue
            units = directory.units(kind=kind, municipality=municipality)
            if not units:
                missing.append(Unroutable(kind, f"kommun {municipality} has no such unit in the directory"))
                continue
        for unit in units:
            found.append(Receiver(unit.hsa_id, kind, unit.system_on(on), unit.municipality))
    return found, missing
