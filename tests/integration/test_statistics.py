"""Follow-up figures in the shape of the Norrbotten tables (domain.md §3, S4): per kommun and
month, somatik and psykiatri apart — built by the hub from a synthetic event log and compared
with figures this test computes on its own from the same plan."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from hub.bootstrap import build_hub
from hub.demo.simulator import synthetic_personnummer
from hub.domain.clock import FakeClock
from hub.domain.stats import MonthState, StatsProcessor
from hub.schemas import payloads as p
from hub.schemas.base import CareType, Service
from hub.schemas.envelope import new_event
from hub.settings import EngineSettings, HubSettings, LogSettings
from tests.samples import HC, SOC, WARD
from tests.support.episodes import local

KOMMUNER = ("2582", "2580")  # Boden, Luleå


@dataclass
class Plan:
    episode: str
    kommun: str
    care: CareType
    ready_day: int | None      # day of March the patient became utskrivningsklar (10:00)
    out_day: int               # day of March of discharge (15:00)
    changed_needs: bool
    pnr: str


def _plans(seed: int) -> list[Plan]:
    rng = random.Random(seed)
    plans = []
    for i in range(60):
        out = rng.randint(8, 31)
        ready = None if rng.random() < 0.2 else max(2, out - rng.choice([0, 0, 1, 2, 3, 4, 6, 9, 12]))
        plans.append(Plan(f"NLL-2026-{i:06d}", rng.choice(KOMMUNER),
                          CareType.PSYCHIATRIC if rng.random() < 0.25 else CareType.SOMATIC,
                          ready, out, rng.random() < 0.5, synthetic_personnummer(rng)))
    return plans


def _events(plan: Plan) -> list:
    admitted = local(2026, 3, 1, 9)
    patient = p.Patient(id=plan.pnr, municipality=plan.kommun, listed_unit=HC)  # type: ignore[arg-type]
    needs = p.Needs(expected=frozenset({Service.SOCIAL_SERVICES}),
                    existing=frozenset() if plan.changed_needs else frozenset({Service.SOCIAL_SERVICES}),
                    changed=plan.changed_needs)
    out = []

    def add(payload: p.Payload, at: dt.datetime) -> None:
        out.append(new_event(payload, episode_id=plan.episode, source="/test",
                             source_message_id=f"{plan.episode}-{len(out)}", time=at, received_at=at))

    add(p.PatientAdmitted(patient=patient, ward=WARD, admitted_at=admitted, care_type=plan.care, needs=needs),
        admitted)
    add(p.AdmissionNoticeSent(notice_id=f"{plan.episode}-N", sender=WARD, patient=patient, needs=needs,
                              care_type=plan.care, recipients=(SOC,)), admitted + dt.timedelta(hours=2))
    if plan.ready_day is not None:
        add(p.ReadyForDischarge(sender=WARD), local(2026, 3, plan.ready_day, 10))
    add(p.PatientDischarged(ward=WARD, discharged_at=local(2026, 3, plan.out_day, 15)),
        local(2026, 3, plan.out_day, 15))
    return out


def _expected(plans: list[Plan], kommun: str, care: CareType) -> dict[str, object]:
    mine = [x for x in plans if x.kommun == kommun and x.care is care]
    ready = [x for x in mine if x.ready_day is not None]
    days = [x.out_day - x.ready_day for x in ready]  # type: ignore[operator]
    liability_after = 3
    liability = [max(0, x.out_day - (x.ready_day + liability_after)) for x in ready]  # type: ignore[operator]

    def mean(values: list[int]) -> float | None:
        return round(sum(values) / len(values), 2) if values else None

    return {
        "episodes_closed": len(mine),
        "episodes_ready": len(ready),
        "episodes_ready_1plus": sum(d >= 1 for d in days),
        "mean_days_ready_skr": mean([d for d in days if d >= 1]),
        "mean_days_ready_all": mean(days),
        "mean_days_ready_new_needs": mean([d for x, d in zip(ready, days, strict=True) if x.changed_needs]),
        "mean_days_ready_unchanged_needs": mean([d for x, d in zip(ready, days, strict=True) if not x.changed_needs]),
        "still_3plus_days": sum(d >= 3 for d in days),
        "same_day_share": round(sum(d == 0 for d in days) / len(days), 4) if days else None,
        "liability_episodes": sum(d > 0 for d in liability),
        "liability_days": sum(liability),
        "liability_amount_sek": sum(liability) * 9300,
    }


def test_monthly_figures_per_kommun_match_an_independent_count(tmp_path: Path) -> None:
    plans = _plans(seed=2018)
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           engine=EngineSettings(rule_pack="norrbotten"))
    hub = build_hub(settings, clock=FakeClock(local(2026, 4, 2).astimezone(dt.UTC)))
    try:
        hub.ingestor.submit_events([e for plan in plans for e in _events(plan)])
        hub.runtime.run_until_idle()
        found = {}
        for key, raw in hub.log.scan_states(StatsProcessor.NAME):
            for f in MonthState.model_validate_json(raw).figures(key):
                found[(f.municipality, f.month, f.care_type)] = f
        published = hub.log.count("svu.stats")
    finally:
        hub.close()
    assert published > 0
    checked = 0
    for kommun in KOMMUNER:
        for care in CareType:
            expected = _expected(plans, kommun, care)
            if not expected["episodes_closed"]:
                continue
            got = found[(kommun, "2026-03", care)].model_dump()
            assert {k: got[k] for k in expected} == expected, (kommun, care)
            checked += 1
    assert checked >= 3
