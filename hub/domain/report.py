"""The per-episode report of the process engine: category, receivers, every deadline with its
due time and outcome, every alert with its raise/escalate/resolve times, and the kommun's
payment liability (days and amount). The format is ``hub.schemas.report.EpisodeReport``
(``contracts/records/episode_report.v1.schema.json``, described in ``contracts/README.md``)."""

from __future__ import annotations

import datetime as dt

from hub.domain import calendar as cal
from hub.domain.deadlines import category_of, derive, kommun_received_notice
from hub.domain.episode import EpisodeState
from hub.domain.routing import requirements
from hub.domain.rules import RulePack
from hub.schemas.base import UnitKind
from hub.schemas.report import AlertReport, DeadlineReport, EpisodeReport, LiabilityReport


def liability(s: EpisodeState, pack: RulePack, now: dt.datetime) -> LiabilityReport:
    """Days and amount of the kommun's payment liability under the pack's conditions."""
    rule = pack.for_municipality(s.municipality).payment_liability
    category = category_of(s)
    why: list[str] = []
    if category is None or not requirements(category).payment_liability:
        why.append(f"category {category.value if category else 'unknown'} carries no payment liability")
    checks = {
        "admission_notice_to_kommun": kommun_received_notice(s),
        "ready_notice_to_kommun": s.first_ready_at is not None and kommun_received_notice(s),
        "sip_called_when_required": (s.sip_invited_at is not None
                                     or category is None or not requirements(category).sip),
        # Primärvården's information (S3) is a condition only where primärvården takes part:
        # in category C (socialtjänst only) it has no part, as the SIP condition has none.
        "primary_care_information_available": (
            "epikris" in s.documents or category is None
            or UnitKind.PRIMARY_CARE not in requirements(category).receiver_kinds),
    }
    why += [f"condition not met: {c}" for c in sorted(rule.requires) if not checks.get(c, True)]
    end = s.discharged_at if s.is_discharged else now
    psychiatric = s.care_type.value == "psykiatri"
    days = 0
    for start, stop in s.ready_periods(end):
        days += cal.liability_days(start, stop or now, rule, psychiatric)
    first = s.first_ready_at
    rate: int | None = None
    source = None
    amount = 0
    if first is not None and days and not why:
        rate, source = cal.daily_rate(rule, cal.local_date(first).year)
        amount = days * rate if rate is not None else 0
    return LiabilityReport(applies=not why, not_applicable_because=why,
                           days=days if not why else 0, amount_sek=amount if not why else 0,
                           daily_rate_sek=rate, daily_rate_source=source)


def days_ready(s: EpisodeState, now: dt.datetime) -> int | None:
    """Calendar days as utskrivningsklar (utskrivningsdatum − utskrivningsklar-datum; W21)."""
    first = s.first_ready_at
    if first is None:
        return None
    end = s.discharged_at if s.is_discharged and s.discharged_at is not None else now
    return max(0, (cal.local_date(end) - cal.local_date(first)).days)


def episode_report(s: EpisodeState, pack: RulePack, now: dt.datetime,
                   region: str | None = None) -> EpisodeReport:
    """The report of one episode as it stands at ``now``, under ``pack`` (the agreement that
    binds it; ``region`` the hospital's)."""
    effective = pack.for_municipality(s.municipality)
    deadlines = []
    for d in derive(s, pack):
        late = int((d.met_at - d.due).total_seconds()) if d.met_at and d.met_at > d.due else None
        deadlines.append(DeadlineReport(rule=d.rule, target=d.target, due=d.due,
                                        outcome=d.outcome(now), met_at=d.met_at,
                                        lateness_seconds=late, responsible_unit=d.responsible,
                                        source=d.source))
    alerts = []
    for aid, st in sorted(s.alerts.items()):
        due = st.raised_at
        escalated = ([due + delay for delay in effective.escalation.after[: max(0, st.level - 1)]]
                     if due is not None and "data_quality" not in aid else [])
        alerts.append(AlertReport(alert_id=aid, raised_at=st.raised_at, level=st.level,
                                  escalated_at=escalated, resolved_at=st.resolved_at))
    category = category_of(s)
    return EpisodeReport(
        episode_id=s.episode_id, rule_pack=effective.id, hospital_region=region,
        municipality=s.municipality, care_type=s.care_type.value,
        category=category.value if category else None, receivers=list(s.notice_recipients),
        admitted_at=s.admitted_at, ready_at=s.first_ready_at,
        discharged_at=s.discharged_at if s.is_discharged else None, cancelled=s.is_cancelled,
        deadlines=deadlines, alerts=alerts, liability=liability(s, pack, now),
        estimated_date_postponements=s.postponements,
        postponed_after_preparation=s.postponed_after_preparation,
        readmission_of=s.readmission_of, readmission_days=s.readmission_days,
        days_ready=days_ready(s, now), data_quality=sorted(s.quality))
