"""Scenario tests of the process engine, one rule at a time: met, missed, late arrival resolving
the alert, weekends and holidays, both daylight-saving changes, cancellation, transfer,
postponed date, Stockholm's noon rule, psykiatri."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.domain.engine import EpisodeEngine
from hub.domain.replay import simulate
from hub.domain.report import EpisodeReport
from hub.domain.rules import builtin_pack
from hub.schemas import payloads as p
from hub.schemas.base import CareType
from hub.schemas.operations import AlertEscalated, AlertRaised, AlertResolved
from tests.samples import HC, HSV, SOC, WARD, WARD2
from tests.support.episodes import NEEDS_C, Episode, local

SECRET = b"test-secret"


def engine(pack: str = "vasterbotten") -> EpisodeEngine:
    return EpisodeEngine(builtin_pack(pack), lambda: None, SECRET)


def run(ep: Episode, until: dt.datetime, pack: str = "vasterbotten") -> tuple[EpisodeReport, list]:
    eng = engine(pack)
    sim = simulate(eng, ep.events, until.astimezone(dt.UTC))
    (report,) = sim.reports(eng, until.astimezone(dt.UTC))
    alerts = [e.event.data for e in sim.emitted if e.topic == "svu.alerts"]
    return report, alerts


def deadline(report: EpisodeReport, rule: str, target: str = "-"):
    found = [d for d in report.deadlines if d.rule == rule and d.target == target]
    assert found, f"no deadline {rule}/{target} in {[(d.rule, d.target) for d in report.deadlines]}"
    return found[0]


def of_rule(alerts: list, rule: str) -> list:
    ids = {a.alert_id for a in alerts if isinstance(a, AlertRaised) and a.rule == rule}
    return [a for a in alerts if a.alert_id in ids]


# ── inskrivningsmeddelande within 24 h ─────────────────────────────────────────────────────


def test_notice_within_24_hours_is_met_and_raises_nothing() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10)).notice(local(2026, 3, 3, 9))
    report, alerts = run(ep, local(2026, 3, 5))
    d = deadline(report, "admission_notice")
    assert d.due == local(2026, 3, 3, 10).astimezone(dt.UTC)
    assert d.outcome == "met"
    assert of_rule(alerts, "admission_notice") == []


def test_missing_notice_raises_escalates_and_resolves_with_its_lateness() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10))
    report, alerts = run(ep, local(2026, 3, 3, 10, 30))
    assert deadline(report, "admission_notice").outcome == "missed"
    (raised,) = of_rule(alerts, "admission_notice")
    assert isinstance(raised, AlertRaised)
    assert raised.raised_at == local(2026, 3, 3, 10).astimezone(dt.UTC)
    assert raised.responsible_unit == WARD
    assert "vasterbotten" in raised.rule_source

    ep.notice(local(2026, 3, 4, 16))  # 30 h late: past both escalation delays (4 h, 24 h)
    report, alerts = run(ep, local(2026, 3, 5))
    trail = of_rule(alerts, "admission_notice")
    assert [type(a) for a in trail] == [AlertRaised, AlertEscalated, AlertEscalated, AlertResolved]
    assert [a.level for a in trail[1:3]] == [2, 3]
    assert trail[-1].lateness_seconds == 30 * 3600
    d = deadline(report, "admission_notice")
    assert (d.outcome, d.lateness_seconds) == ("met_late", 30 * 3600)


def test_later_doctors_assessment_moves_the_notice_deadline() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10), needs=None)
    ep.add(p.AdmissionNoticeSent(notice_id="x", sender=WARD, patient=ep_patient(),
                                 needs=NEEDS_C, assessed_at=local(2026, 3, 4, 8), recipients=(SOC,)),
           local(2026, 3, 4, 20))
    report, _ = run(ep, local(2026, 3, 6))
    d = deadline(report, "admission_notice")
    assert d.due == local(2026, 3, 5, 8).astimezone(dt.UTC)
    assert d.outcome == "met"


def ep_patient():
    from tests.samples import patient
    return patient()


def test_category_a_is_outside_the_law() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10), needs=p.Needs())
    report, alerts = run(ep, local(2026, 3, 10))
    assert report.category == "A"
    assert report.deadlines == []
    assert alerts == []


def test_unknown_needs_arm_no_notice_deadline() -> None:
    report, alerts = run(Episode().admit(local(2026, 3, 2, 10), needs=None), local(2026, 3, 10))
    assert report.category is None
    assert alerts == []


# ── kvittering at the next kvitteringstid ──────────────────────────────────────────────────


def test_kvittering_due_at_next_time_and_missing_one_alerts_the_receiving_unit() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 10))  # Monday
    ep.ack(SOC, local(2026, 3, 2, 13, 55))
    report, alerts = run(ep, local(2026, 3, 3, 12))
    assert deadline(report, "kvittering", SOC).outcome == "met"
    missed = deadline(report, "kvittering", HSV)
    assert missed.due == local(2026, 3, 2, 14).astimezone(dt.UTC)
    assert missed.outcome == "missed"
    raised = [a for a in of_rule(alerts, "kvittering") if isinstance(a, AlertRaised)]
    assert {a.responsible_unit for a in raised} == {HSV, HC}


def test_kvittering_rolls_over_the_weekend() -> None:
    ep = Episode().admit(local(2026, 3, 6, 8)).notice(local(2026, 3, 6, 15))  # Friday after 14
    report, _ = run(ep, local(2026, 3, 10))
    assert deadline(report, "kvittering", SOC).due == local(2026, 3, 9, 9).astimezone(dt.UTC)


def test_kvittering_rolls_over_christmas() -> None:
    ep = Episode().admit(local(2026, 12, 23, 8)).notice(local(2026, 12, 23, 15))
    report, _ = run(ep, local(2026, 12, 30))
    # 24 (julafton), 25, 26 and the weekend 26-27 are not working days
    assert deadline(report, "kvittering", SOC).due == local(2026, 12, 28, 9).astimezone(dt.UTC)


def test_norrbotten_kommun_override_uses_its_own_kvitteringstid() -> None:
    pack = builtin_pack("norrbotten")
    overridden = [k for k, v in pack.municipalities.items()]
    assert overridden, "the Norrbotten pack ships an example kommun override"
    kommun = overridden[0]
    times = pack.for_municipality(kommun).kvittering.times
    assert times != pack.kvittering.times


# ── daylight saving ────────────────────────────────────────────────────────────────────────


def test_notice_deadline_is_24_elapsed_hours_across_spring_forward() -> None:
    ep = Episode().admit(local(2026, 3, 28, 10))
    report, _ = run(ep, local(2026, 3, 30))
    due = deadline(report, "admission_notice").due
    assert due - local(2026, 3, 28, 10).astimezone(dt.UTC) == dt.timedelta(hours=24)
    assert due.astimezone(local(2026, 1, 1).tzinfo).hour == 11  # wall clock moved an hour


def test_sip_invitation_keeps_local_time_across_fall_back() -> None:
    ep = Episode().admit(local(2026, 10, 20, 8)).notice(local(2026, 10, 20, 12)).ready(local(2026, 10, 23, 10))
    report, _ = run(ep, local(2026, 10, 30))
    due = deadline(report, "sip_invitation").due
    assert due == local(2026, 10, 26, 10).astimezone(dt.UTC)
    assert due.hour == 9  # 10:00 CET is 09:00 UTC once summer time has ended


# ── utskrivningsklar, SIP, cancellation, transfer, postponement ───────────────────────────


def test_sip_invitation_late_then_sent_resolves() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    ep.ready(local(2026, 3, 5, 10)).sip(local(2026, 3, 9, 10))
    report, alerts = run(ep, local(2026, 3, 12))
    d = deadline(report, "sip_invitation")
    assert d.outcome == "met_late"
    assert d.lateness_seconds == 24 * 3600
    assert isinstance(of_rule(alerts, "sip_invitation")[-1], AlertResolved)


def test_withdrawn_ready_notice_drops_the_sip_deadline_and_resolves_its_alert() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12)).ready(local(2026, 3, 3, 10))
    _, alerts = run(ep, local(2026, 3, 7))
    assert of_rule(alerts, "sip_invitation")
    ep.withdraw(local(2026, 3, 8, 9))
    report, alerts = run(ep, local(2026, 3, 9))
    assert not [d for d in report.deadlines if d.rule == "sip_invitation"]
    last = of_rule(alerts, "sip_invitation")[-1]
    assert isinstance(last, AlertResolved)
    assert last.resolution == "no_longer_required"


def test_cancelled_admission_drops_every_deadline_and_flags_later_messages() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).cancel(local(2026, 3, 2, 9))
    ep.notice(local(2026, 3, 2, 12))
    report, alerts = run(ep, local(2026, 3, 10))
    assert report.cancelled is True
    assert report.deadlines == []
    assert "admission_notice_sent_after_cancellation" in report.data_quality
    assert any(isinstance(a, AlertRaised) and a.rule == "data_quality" for a in alerts)


def test_discharge_before_admission_is_a_data_quality_alert_not_a_crash() -> None:
    ep = Episode().discharge(local(2026, 3, 1, 8)).admit(local(2026, 3, 2, 8))
    report, _ = run(ep, local(2026, 3, 3))
    assert report.data_quality == ["discharge_before_admission"]


def test_transfer_requires_an_updated_notice() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    ep.add(p.PatientTransferred(from_ward=WARD, to_ward=WARD2, transferred_at=local(2026, 3, 3, 9)),
           local(2026, 3, 3, 9))
    report, alerts = run(ep, local(2026, 3, 4, 10))
    assert deadline(report, "notice_update_after_transfer").outcome == "missed"
    ep.add(p.AdmissionNoticeUpdated(notice_id="x", sender=WARD2, reason="ward_transfer", ward=WARD2),
           local(2026, 3, 4, 11))
    report, alerts = run(ep, local(2026, 3, 5))
    assert deadline(report, "notice_update_after_transfer").outcome == "met_late"
    assert isinstance(of_rule(alerts, "notice_update_after_transfer")[-1], AlertResolved)


def test_postponed_date_after_the_kommun_started_preparing_is_counted() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    ep.add(p.EstimatedDischargeDateSet(date=dt.date(2026, 3, 6), unit=WARD), local(2026, 3, 2, 12))
    ep.add(p.EstimatedDischargeDateChanged(previous=dt.date(2026, 3, 6), date=dt.date(2026, 3, 5),
                                           unit=WARD), local(2026, 3, 2, 13))  # earlier: no count
    ep.ack(SOC, local(2026, 3, 2, 14))
    ep.add(p.EstimatedDischargeDateChanged(previous=dt.date(2026, 3, 5), date=dt.date(2026, 3, 9),
                                           unit=WARD), local(2026, 3, 4, 9))
    report, _ = run(ep, local(2026, 3, 5))
    assert report.estimated_date_postponements == 1
    assert report.postponed_after_preparation == 1


# ── betalningsansvar ───────────────────────────────────────────────────────────────────────


def _liability_episode(ready: dt.datetime, out: dt.datetime, care: CareType = CareType.SOMATIC) -> Episode:
    ep = Episode().admit(local(2026, 3, 2, 8), care=care).notice(local(2026, 3, 2, 12), care=care)
    ep.ready(ready).sip(ready + dt.timedelta(hours=2))
    ep.add(p.DischargeDocumentsAvailable(unit=WARD, documents=frozenset({"epikris", "lakemedelslista"}),
                                         available_at=ready), ready)
    return ep.discharge(out)


def test_liability_starts_three_calendar_days_after_the_notice() -> None:
    report, _ = run(_liability_episode(local(2026, 3, 5, 10), local(2026, 3, 12, 10)), local(2026, 3, 13))
    # notice Thursday 5th; liable from the 8th; discharge the 12th: 8, 9, 10, 11
    assert report.liability.applies, report.liability.not_applicable_because
    assert report.liability.days == 4
    assert report.liability.amount_sek == 4 * report.liability.daily_rate_sek


def test_stockholm_noon_rule_and_psychiatry() -> None:
    before = run(_liability_episode(local(2026, 3, 5, 11, 59), local(2026, 3, 12, 10)),
                 local(2026, 3, 13), pack="stockholm")[0]
    after = run(_liability_episode(local(2026, 3, 5, 12, 0), local(2026, 3, 12, 10)),
                local(2026, 3, 13), pack="stockholm")[0]
    assert before.liability.days == after.liability.days + 1
    psych = run(_liability_episode(local(2026, 3, 5, 11), local(2026, 3, 12, 10), CareType.PSYCHIATRIC),
                local(2026, 3, 13), pack="stockholm")[0]
    assert psych.liability.days == before.liability.days - 2  # 5 days instead of 3


def test_no_liability_without_a_notice_to_the_kommun() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12), recipients=(HC,))
    ep.ready(local(2026, 3, 5, 10)).discharge(local(2026, 3, 12, 10))
    report, _ = run(ep, local(2026, 3, 13))
    assert not report.liability.applies
    assert report.liability.days == 0
    assert any("admission_notice_to_kommun" in r for r in report.liability.not_applicable_because)


# ── duplicates and order ───────────────────────────────────────────────────────────────────


def test_duplicates_change_nothing_and_order_of_arrival_does_not_matter() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12)).ack(SOC, local(2026, 3, 2, 13))
    ep.ready(local(2026, 3, 5, 10)).discharge(local(2026, 3, 9, 10))
    base, _ = run(ep, local(2026, 3, 12))
    twice = Episode()
    twice.events = [*ep.events, *ep.events[:3]]
    assert run(twice, local(2026, 3, 12))[0] == base
    shuffled = Episode()
    shuffled.events = list(reversed(ep.events))
    assert run(shuffled, local(2026, 3, 12))[0].deadlines == base.deadlines


@pytest.mark.parametrize("unit", [SOC, HSV, HC])
def test_each_receiver_has_its_own_kvittering(unit: str) -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 10)).ack(unit, local(2026, 3, 2, 11))
    report, _ = run(ep, local(2026, 3, 3))
    assert deadline(report, "kvittering", unit).outcome == "met"
    assert sum(d.outcome == "missed" for d in report.deadlines if d.rule == "kvittering") == 2


# ── readmission ────────────────────────────────────────────────────────────────────────────


def test_readmission_within_30_days_is_linked_to_the_earlier_episode() -> None:
    first = Episode("VLL-2026-000001").admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    first.discharge(local(2026, 3, 6, 10))
    again = Episode("VLL-2026-000002").admit(local(2026, 3, 20, 8))
    late = Episode("VLL-2026-000003").admit(local(2026, 5, 20, 8))
    eng = engine()
    until = local(2026, 5, 21).astimezone(dt.UTC)
    sim = simulate(eng, [*first.events, *again.events, *late.events], until)
    reports = {r.episode_id: r for r in sim.reports(eng, until)}
    assert reports["VLL-2026-000002"].readmission_of == "VLL-2026-000001"
    assert reports["VLL-2026-000001"].readmission_of is None
    assert reports["VLL-2026-000003"].readmission_of is None  # more than 30 days after
    index = [e for e in sim.emitted if e.topic == "svu.internal.patients"]
    assert index
    assert all("191212121212" not in e.key and "19121212" not in e.event.model_dump_json() for e in index)


def test_readmission_found_whichever_episode_arrives_first() -> None:
    first = Episode("VLL-2026-000001").admit(local(2026, 3, 2, 8)).discharge(local(2026, 3, 6, 10))
    again = Episode("VLL-2026-000002").admit(local(2026, 3, 20, 8))
    eng = engine()
    until = local(2026, 4, 1).astimezone(dt.UTC)
    sim = simulate(eng, [*again.events, *first.events], until)
    reports = {r.episode_id: r for r in sim.reports(eng, until)}
    assert reports["VLL-2026-000002"].readmission_of == "VLL-2026-000001"
