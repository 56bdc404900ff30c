"""From episode state to follow-up figures, and from figures to monthly figures per kommun.

An episode counts in the month of its discharge (SKR: "vårdtillfällen avslutade under
månaden"), in its folkbokföringskommun, somatik and psykiatri apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from hub.domain import calendar as cal
from hub.domain.deadlines import category_of
from hub.domain.episode import EpisodeState
from hub.domain.report import episode_report
from hub.domain.routing import requirements
from hub.domain.rules import RulePack
from hub.schemas.base import CareType
from hub.schemas.figures import EpisodeFigures, MonthlyFigures


def episode_figures(s: EpisodeState, pack: RulePack, now: dt.datetime) -> EpisodeFigures | None:
    """The figures of a closed (discharged, not cancelled) episode with a known kommun."""
    if not s.is_discharged or s.is_cancelled or s.discharged_at is None or s.municipality is None:
        return None
    report = episode_report(s, pack, now)
    first_ready = s.first_ready_at
    days_ready = 0
    if first_ready is not None:
        days_ready = max(0, (cal.local_date(s.discharged_at) - cal.local_date(first_ready)).days)
    category = category_of(s)
    kvitt = [d for d in report.deadlines if d.rule == "kvittering"]
    sip = [d for d in report.deadlines if d.rule == "sip_invitation"]
    return EpisodeFigures(
        episode_id=s.episode_id, municipality=s.municipality,
        month=f"{cal.local_date(s.discharged_at):%Y-%m}", care_type=s.care_type,
        ready=first_ready is not None, days_ready=days_ready, new_or_changed_needs=s.needs_changed,
        liability_days=report.liability.days, liability_amount_sek=report.liability.amount_sek,
        readmission=s.readmission_of is not None,
        sip_required=bool(category and requirements(category).sip and sip),
        sip_on_time=any(d.outcome == "met" for d in sip),
        postponements=s.postponements,
        kvitteringar=len(kvitt), kvitteringar_on_time=sum(d.outcome == "met" for d in kvitt))


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def monthly(municipality: str, month: str, care_type: CareType,
            episodes: Iterable[EpisodeFigures]) -> MonthlyFigures:
    """Aggregate one kommun's closed episodes of one month and care type."""
    eps = [e for e in episodes if e.care_type is care_type and not e.retract]
    ready = [e for e in eps if e.ready]
    return MonthlyFigures(
        municipality=municipality, month=month, care_type=care_type,
        episodes_closed=len(eps), episodes_ready=len(ready),
        episodes_ready_1plus=sum(e.days_ready >= 1 for e in ready),
        mean_days_ready_skr=_mean([e.days_ready for e in ready if e.days_ready >= 1]),
        mean_days_ready_all=_mean([e.days_ready for e in ready]),
        mean_days_ready_new_needs=_mean([e.days_ready for e in ready if e.new_or_changed_needs]),
        mean_days_ready_unchanged_needs=_mean([e.days_ready for e in ready if not e.new_or_changed_needs]),
        still_3plus_days=sum(e.days_ready >= 3 for e in ready),
        same_day_share=round(sum(e.days_ready == 0 for e in ready) / len(ready), 4) if ready else None,
        liability_episodes=sum(e.liability_days > 0 for e in eps),
        liability_days=sum(e.liability_days for e in eps),
        liability_amount_sek=sum(e.liability_amount_sek for e in eps),
        readmissions_30d=sum(e.readmission for e in eps),
        sip_required=sum(e.sip_required for e in eps),
        sip_on_time=sum(e.sip_required and e.sip_on_time for e in eps),
        postponed_dates=sum(e.postponements for e in eps),
        kvitteringar=sum(e.kvitteringar for e in eps),
        kvitteringar_on_time=sum(e.kvitteringar_on_time for e in eps))
