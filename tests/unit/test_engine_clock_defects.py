"""Scenario tests of six defects of the law's clock, each written from the rule it breaks:

1. a county condition that does not apply to the episode's category must not block liability;
2. a rule that applies again after "no longer required" raises its alert again;
3. a message that arrives exactly at its deadline is met and raises nothing;
4. an inskrivningsmeddelande without a care type keeps the admission's care type;
5. every report line validates against ``contracts/records/episode_report.v1.schema.json``;
6. an alert whose deadline moved later is withdrawn, and raised again only when the new one passes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema

from hub.schemas import payloads as p
from hub.schemas.base import CareType
from hub.schemas.operations import AlertEscalated, AlertRaised, AlertResolved
from tests.samples import HC, SOC, WARD, patient
from tests.support.episodes import NEEDS_C, Episode, local
from tests.unit.test_engine import deadline, of_rule, run

SCHEMA = Path(__file__).parents[2] / "contracts" / "records" / "episode_report.v1.schema.json"


# ── 1. a condition outside the category ────────────────────────────────────────────────────


def test_primary_care_condition_does_not_block_liability_in_category_c() -> None:
    """Västerbotten requires that primärvården made its information available (S3); in
    category C (socialtjänst only) primärvården has no part, so the condition does not apply."""
    ep = Episode().admit(local(2026, 3, 2, 8), needs=NEEDS_C)
    ep.notice(local(2026, 3, 2, 12), needs=NEEDS_C, recipients=(SOC,))
    ep.ready(local(2026, 3, 5, 10)).discharge(local(2026, 3, 12, 10))
    report, _ = run(ep, local(2026, 3, 13))
    assert report.category == "C"
    assert report.liability.applies, report.liability.not_applicable_because
    assert report.liability.days == 4  # liable from the 8th; discharged the 12th


def test_primary_care_condition_still_blocks_where_primary_care_takes_part() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))  # C+D
    ep.ready(local(2026, 3, 5, 10)).sip(local(2026, 3, 5, 12)).discharge(local(2026, 3, 12, 10))
    report, _ = run(ep, local(2026, 3, 13))
    assert not report.liability.applies
    assert report.liability.not_applicable_because == [
        "condition not met: primary_care_information_available"]


# ── 2. raised again after "no longer required" ────────────────────────────────────────────


def test_second_ready_period_raises_the_missed_sip_invitation_again() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    ep.ready(local(2026, 3, 3, 10)).withdraw(local(2026, 3, 7, 9)).ready(local(2026, 3, 9, 10))
    report, alerts = run(ep, local(2026, 3, 13))
    assert deadline(report, "sip_invitation").due == local(2026, 3, 12, 10).astimezone(dt.UTC)
    raised = [a for a in alerts if isinstance(a, AlertRaised) and a.rule == "sip_invitation"]
    assert [a.deadline for a in raised] == [local(2026, 3, 6, 10).astimezone(dt.UTC),
                                            local(2026, 3, 12, 10).astimezone(dt.UTC)]
    assert raised[0].alert_id != raised[1].alert_id
    first = [a for a in alerts if isinstance(a, AlertResolved) and a.alert_id == raised[0].alert_id]
    assert [(a.resolution, a.resolved_at) for a in first] == [
        ("no_longer_required", local(2026, 3, 7, 9).astimezone(dt.UTC))]
    assert not [a for a in alerts if isinstance(a, AlertResolved) and a.alert_id == raised[1].alert_id]
    # the report keeps both alerts
    assert {a.alert_id for a in report.alerts} >= {raised[0].alert_id, raised[1].alert_id}


# ── 3. exactly at the deadline ─────────────────────────────────────────────────────────────


def test_message_exactly_at_its_deadline_is_met_and_raises_nothing() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10)).notice(local(2026, 3, 3, 10))  # 24 h exactly
    ep.ack(SOC, local(2026, 3, 3, 14))  # the kvitteringstid itself
    report, alerts = run(ep, local(2026, 3, 4, 8))
    assert deadline(report, "admission_notice").outcome == "met"
    assert deadline(report, "kvittering", SOC).outcome == "met"
    assert of_rule(alerts, "admission_notice") == []
    assert not [a for a in of_rule(alerts, "kvittering") if a.alert_id.endswith(SOC)]


def test_a_deadline_passed_by_one_minute_still_raises() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10)).notice(local(2026, 3, 3, 10, 1))
    report, alerts = run(ep, local(2026, 3, 4, 8))
    assert deadline(report, "admission_notice").outcome == "met_late"
    trail = of_rule(alerts, "admission_notice")
    assert [type(a) for a in trail] == [AlertRaised, AlertResolved]
    assert trail[-1].lateness_seconds == 60


# ── 4. the care type of the admission stays ────────────────────────────────────────────────


def test_notice_without_care_type_keeps_the_psychiatric_admission() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8), care=CareType.PSYCHIATRIC)
    ep.add(p.AdmissionNoticeSent(notice_id="N", sender=WARD, patient=patient(), recipients=(SOC, HC),
                                 needs=NEEDS_C), local(2026, 3, 2, 12))
    ep.ready(local(2026, 3, 5, 11)).discharge(local(2026, 3, 12, 10))
    report, _ = run(ep, local(2026, 3, 13), pack="stockholm")
    assert report.care_type == "psykiatri"
    # Stockholm psykiatri: liable after 5 days (from the 10th), not 3 (from the 8th)
    assert report.liability.days == 2


def test_a_notice_that_states_the_care_type_changes_it() -> None:
    ep = Episode().admit(local(2026, 3, 2, 8), care=CareType.PSYCHIATRIC)
    ep.notice(local(2026, 3, 2, 12), care=CareType.SOMATIC)
    report, _ = run(ep, local(2026, 3, 3))
    assert report.care_type == "somatik"


# ── 5. report lines valid against their schema ─────────────────────────────────────────────


def test_report_lines_of_every_kind_of_episode_validate_against_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    bare = Episode("VLL-2026-000010").admit(local(2026, 3, 2, 8), needs=None)  # almost nothing known
    full = Episode("VLL-2026-000011").admit(local(2026, 3, 2, 8)).notice(local(2026, 3, 2, 12))
    full.ready(local(2026, 3, 5, 10)).discharge(local(2026, 3, 9, 10))
    for ep in (bare, full):
        report, _ = run(ep, local(2026, 3, 13))
        line = report.to_line()
        errors = [e.message for e in validator.iter_errors(json.loads(line))]
        assert errors == []
    line = json.loads(run(bare, local(2026, 3, 13))[0].to_line())
    assert line["category"] is None and line["ready_at"] is None  # present, as the schema requires


# ── 6. a deadline that moved later ─────────────────────────────────────────────────────────


def test_alert_withdrawn_when_its_deadline_moves_later_and_raised_again_when_it_passes() -> None:
    """The patient's needs become known late (the doctor's later bedömning): the 24 h of the
    inskrivningsmeddelande then run from that bedömning."""
    ep = Episode().admit(local(2026, 3, 2, 10))
    _, alerts = run(ep, local(2026, 3, 3, 12))
    assert [type(a) for a in of_rule(alerts, "admission_notice")] == [AlertRaised]
    ep.add(p.AdmissionNoticeSent(notice_id="N", sender=WARD, patient=patient(), needs=NEEDS_C,
                                 assessed_at=local(2026, 3, 4, 8), recipients=(SOC,)),
           local(2026, 3, 5, 9))  # the new deadline (5th 08:00) passed an hour before
    report, alerts = run(ep, local(2026, 3, 6))
    trail = [a for a in of_rule(alerts, "admission_notice") if not isinstance(a, AlertEscalated)]
    first, second = sorted({a.alert_id for a in trail}, key=len)
    kinds = [(a.alert_id, type(a).__name__, getattr(a, "resolution", None)) for a in trail]
    assert [k for k in kinds if k[0] == first] == [
        (first, "AlertRaised", None), (first, "AlertResolved", "no_longer_required")]
    assert [k for k in kinds if k[0] == second] == [
        (second, "AlertRaised", None), (second, "AlertResolved", "message_arrived")]
    raised = [a for a in trail if isinstance(a, AlertRaised)]
    assert [a.deadline for a in raised] == [local(2026, 3, 3, 10).astimezone(dt.UTC),
                                            local(2026, 3, 5, 8).astimezone(dt.UTC)]
    assert trail[-1].lateness_seconds == 3600
    assert deadline(report, "admission_notice").outcome == "met_late"


def test_moved_deadline_that_is_then_met_raises_nothing_more() -> None:
    ep = Episode().admit(local(2026, 3, 2, 10))
    ep.add(p.AdmissionNoticeSent(notice_id="N", sender=WARD, patient=patient(), needs=NEEDS_C,
                                 assessed_at=local(2026, 3, 4, 8), recipients=(SOC,)),
           local(2026, 3, 4, 20))
    # the notice itself is processed at 20:00 on the 4th; the first deadline (3rd 10:00) passed
    report, alerts = run(ep, local(2026, 3, 6))
    trail = [a for a in of_rule(alerts, "admission_notice") if not isinstance(a, AlertEscalated)]
    assert [(type(a).__name__, getattr(a, "resolution", None)) for a in trail] == [
        ("AlertRaised", None), ("AlertResolved", "no_longer_required")]
    assert trail[1].resolved_at == local(2026, 3, 4, 20).astimezone(dt.UTC)
    assert deadline(report, "admission_notice").outcome == "met"
