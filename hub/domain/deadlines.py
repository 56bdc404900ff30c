"""Every deadline of one vårdtillfälle, derived afresh from its facts and the rule pack.

Each rule names its source: the law's paragraph or the county agreement, through the pack
(``RulePack.source_of``). A deadline is *met* when its message's event time is at or before the
due time, *met late* when after, *missed* while absent past the due time, *pending* before it.
Rules that no longer apply (cancelled admission, withdrawn utskrivningsklar, discharge) drop out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from hub.domain import calendar as cal
from hub.domain.episode import EpisodeState
from hub.domain.routing import Category, Requirements, categorise, requirements
from hub.domain.rules import RulePack
from hub.schemas.base import Service
from hub.schemas.identifiers import is_municipal_unit
from hub.schemas.payloads import Needs

DOCUMENTS = frozenset({"epikris", "lakemedelslista"})

LAW_SOURCES = {
    "care_contact": "Lag (2017:612); Socialstyrelsen (domain.md W5): fast vårdkontakt före utskrivning",
    "discharge_notice": "Länsrutin (domain.md S2): utskrivningsmeddelande samma dag som utskrivning",
    "patient_information": "Länsrutin (domain.md S0, S2): skriftlig information till patienten",
}


def _source(pack: RulePack, rule: str) -> str:
    return LAW_SOURCES.get(rule) or pack.source_of(rule)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline: who must send what by when, and when (by event time) it was sent."""

    rule: str
    target: str
    due: dt.datetime
    met_at: dt.datetime | None
    responsible: str | None
    source: str

    @property
    def alert_id_suffix(self) -> str:
        return f"{self.rule}:{self.target}"

    def outcome(self, now: dt.datetime) -> str:
        if self.met_at is not None:
            return "met" if self.met_at <= self.due else "met_late"
        return "missed" if now > self.due else "pending"


def category_of(s: EpisodeState) -> Category | None:
    """The A–E planning category, once the needs are known."""
    if not s.needs_known:
        return None
    return _category(tuple(s.existing), tuple(s.expected))


@lru_cache(maxsize=256)
def _category(existing: tuple[str, ...], expected: tuple[str, ...]) -> Category:
    return categorise(Needs(existing=frozenset(Service(v) for v in existing),
                            expected=frozenset(Service(v) for v in expected)))


def derive(s: EpisodeState, pack: RulePack) -> list[Deadline]:
    """All deadlines that apply to the episode now, in a stable order."""
    if s.is_cancelled or s.admitted_at is None:
        return []
    category = category_of(s)
    req = requirements(category) if category is not None else None
    if req is not None and not req.in_scope:
        return []
    pack = pack.for_municipality(s.municipality)
    out: list[Deadline] = []
    if req is not None:
        out += _notice(s, pack, req)
        out += _kvittering(s, pack)
        out += _care_contact(s, pack, req)
        out += _sip(s, pack, req)
        out += _discharge(s, pack)
        out += _planning(s, pack)
    out += _transfer(s, pack)
    return out


def _notice(s: EpisodeState, pack: RulePack, req: Requirements) -> list[Deadline]:
    if not req.admission_notice or s.admitted_at is None:
        return []
    start = max(s.admitted_at, s.assessed_at) if s.assessed_at else s.admitted_at
    due = cal.after_hours(start, pack.admission_notice_hours)
    return [Deadline("admission_notice", "-", due, s.notice_at, s.ward,
                     pack.source_of("admission_notice_hours"))]


def _kvittering(s: EpisodeState, pack: RulePack) -> list[Deadline]:
    if s.notice_at is None:
        return []
    out = []
    for unit in s.notice_recipients:
        policy = pack.kvittering
        due = cal.next_kvittering(s.notice_at, policy)
        out.append(Deadline("kvittering", unit, due, s.acks.get(unit), unit,
                            pack.source_of("kvittering")))
    return out


def _care_contact(s: EpisodeState, pack: RulePack, req: Requirements) -> list[Deadline]:
    """Fast vårdkontakt utsedd före utskrivning (W5, S2)."""
    if not req.care_contact or s.notice_at is None:
        return []
    if s.is_discharged and s.discharged_at is not None:
        due = s.discharged_at
    elif s.estimated is not None:
        due = cal.end_of_local_day(dt.datetime.combine(s.estimated, dt.time(12), cal.STOCKHOLM))
    else:
        return []
    return [Deadline("care_contact", "-", due, s.care_contact_at, s.listed_unit,
                     _source(pack, "care_contact"))]


def _sip(s: EpisodeState, pack: RulePack, req: Requirements) -> list[Deadline]:
    if not req.sip:
        return []
    out = []
    ready = s.ready_at
    if ready is not None:
        due = cal.after_days(ready, pack.sip_invitation_days, pack.sip_invitation_day_kind)
        out.append(Deadline("sip_invitation", "-", due, s.sip_invited_at,
                            s.care_contact_unit or s.listed_unit, pack.source_of("sip_invitation_days")))
    if s.is_discharged and s.discharged_at is not None and s.colour is not None:
        window = cal.sip_window(s.colour, s.discharged_at, pack.sip_timing)
        if window is not None:
            out.append(Deadline(f"sip_meeting_{s.colour.value}", "-", window[1], s.sip_held_at,
                                s.care_contact_unit or s.listed_unit, pack.source_of("sip_timing")))
    return out


def _discharge(s: EpisodeState, pack: RulePack) -> list[Deadline]:
    out = []
    first_ready = s.first_ready_at
    docs_met = max(s.documents.values()) if set(s.documents) >= DOCUMENTS else None
    if pack.discharge_documents_on == "ready_for_discharge_day" and first_ready is not None:
        out.append(Deadline("discharge_documents", "-", cal.end_of_local_day(first_ready), docs_met,
                            s.ward, pack.source_of("discharge_documents_on")))
    if not s.is_discharged or s.discharged_at is None:
        if s.ready_at is not None:
            due = cal.after_days(s.ready_at, pack.stale_ready_days, "calendar")
            out.append(Deadline("stale_ready", s.municipality or "-", due, None,
                                None, pack.source_of("stale_ready_days")))
        return out
    end_of_day = cal.end_of_local_day(s.discharged_at)
    out.append(Deadline("discharge_notice", "-", end_of_day, s.discharge_notice_at, s.ward,
                        _source(pack, "discharge_notice")))
    if pack.discharge_documents_on == "discharge_day":
        out.append(Deadline("discharge_documents", "-", end_of_day, docs_met, s.ward,
                            pack.source_of("discharge_documents_on")))
    out.append(Deadline("patient_information", "-", s.discharged_at, s.information_at, s.ward,
                        _source(pack, "patient_information")))
    if s.ready_at is not None:
        due = cal.after_days(s.ready_at, pack.stale_ready_days, "calendar")
        met = s.discharged_at
        out.append(Deadline("stale_ready", s.municipality or "-", due, met, None,
                            pack.source_of("stale_ready_days")))
    return out


def _planning(s: EpisodeState, pack: RulePack) -> list[Deadline]:
    """Planeringsunderlag: kept up to date while admitted, newer than the latest change of the
    beräknat datum and the utskrivningsklar notice, and complete at utskrivningsklar."""
    if s.notice_at is None:
        return []
    out = []
    hours = pack.planning_basis_stale_hours
    end = s.discharged_at if s.is_discharged else None
    bases = [s.notice_at, *[u for u in s.planning_updates if u >= s.notice_at]]
    for i, base in enumerate(bases):
        due = cal.after_hours(base, hours)
        if end is not None and due >= end:
            break
        met = bases[i + 1] if i + 1 < len(bases) else None
        out.append(Deadline("planning_basis_stale", f"{base:%Y%m%dT%H%M%S}", due, met, s.ward,
                            pack.source_of("planning_basis_stale_hours")))
    for rule, changed in (("planning_basis_outdated_date", s.estimate_changed_at),
                          ("planning_basis_outdated_ready", s.ready_at)):
        if changed is None or (end is not None and changed >= end):
            continue
        after = [u for u in s.planning_updates if u >= changed]
        out.append(Deadline(rule, "-", cal.after_hours(changed, hours), after[0] if after else None,
                            s.ward, pack.source_of("planning_basis_stale_hours")))
    if s.ready_at is not None and (s.incomplete_sections or
                                   (s.completed_at is not None and s.completed_at > s.ready_at)):
        met = s.completed_at if not s.incomplete_sections else None
        out.append(Deadline("planning_basis_incomplete", "-", s.ready_at, met, s.ward,
                            pack.source_of("planning_basis_stale_hours")))
    return out


def _transfer(s: EpisodeState, pack: RulePack) -> list[Deadline]:
    """After a ward or hospital transfer the inskrivningsmeddelande must be updated (S4)."""
    if s.transferred_at is None or s.notice_at is None or s.transferred_at < s.notice_at:
        return []
    if s.is_discharged and s.discharged_at is not None and s.discharged_at <= s.transferred_at:
        return []
    updated = s.notice_updated_at if s.notice_updated_at and s.notice_updated_at >= s.transferred_at else None
    due = cal.after_hours(s.transferred_at, pack.admission_notice_hours)
    return [Deadline("notice_update_after_transfer", "-", due, updated, s.ward,
                     pack.source_of("admission_notice_hours"))]


def kommun_received_notice(s: EpisodeState) -> bool:
    return any(is_municipal_unit(u) for u in s.notice_recipients)


