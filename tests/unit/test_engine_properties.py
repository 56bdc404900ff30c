"""Properties of the process engine (hypothesis): an alert fires exactly when its message is
absent at the deadline; any interleaving that keeps each episode's order gives the same report;
duplicates change nothing."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.demo.simulator import Simulator
from hub.domain.engine import EpisodeEngine
from hub.domain.replay import simulate
from hub.domain.rules import builtin_pack
from hub.schemas.envelope import Envelope
from hub.schemas.operations import AlertRaised
from tests.samples import SOC
from tests.support.episodes import Episode

SECRET = b"k"
START = dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC)


def _engine() -> EpisodeEngine:
    return EpisodeEngine(builtin_pack("vasterbotten"), lambda: None, SECRET)


def _raised(emitted: list, rule: str, target: str | None = None) -> list[AlertRaised]:
    return [e.event.data for e in emitted if e.topic == "svu.alerts" and isinstance(e.event.data, AlertRaised)
            and e.event.data.rule == rule and (target is None or e.event.data.alert_id.endswith(target))]


admissions = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 20),
                          timezones=st.just(dt.UTC))


@given(admissions, st.one_of(st.none(), st.floats(min_value=0, max_value=60)),
       st.floats(min_value=0, max_value=80))
def test_notice_alert_fires_exactly_when_the_notice_is_absent_at_the_deadline(
        admitted: dt.datetime, delay_h: float | None, horizon_h: float) -> None:
    ep = Episode().admit(admitted)
    if delay_h is not None:
        ep.notice(admitted + dt.timedelta(hours=delay_h))
    until = admitted + dt.timedelta(hours=horizon_h)
    events = [e for e in ep.events if e.time <= until]
    sim = simulate(_engine(), events, until)
    due = admitted + dt.timedelta(hours=24)
    sent = delay_h is not None and admitted + dt.timedelta(hours=delay_h) <= until
    absent_at_due = not sent or admitted + dt.timedelta(hours=delay_h or 0) > due
    expected = until >= due and absent_at_due
    raised = _raised(sim.emitted, "admission_notice")
    assert bool(raised) is expected
    if raised:
        assert raised[0].raised_at == due


@given(admissions, st.one_of(st.none(), st.floats(min_value=0, max_value=120)),
       st.floats(min_value=0, max_value=150))
def test_kvittering_alert_fires_exactly_when_the_ack_is_absent_at_the_kvitteringstid(
        notice_at: dt.datetime, ack_after_h: float | None, horizon_h: float) -> None:
    from hub.domain import calendar as cal
    from hub.domain.rules import KvitteringPolicy

    ep = Episode().admit(notice_at - dt.timedelta(hours=1)).notice(notice_at, recipients=(SOC,))
    if ack_after_h is not None:
        ep.ack(SOC, notice_at + dt.timedelta(hours=ack_after_h))
    until = notice_at + dt.timedelta(hours=horizon_h)
    sim = simulate(_engine(), [e for e in ep.events if e.time <= until], until)
    due = cal.next_kvittering(notice_at, KvitteringPolicy())
    ack = notice_at + dt.timedelta(hours=ack_after_h) if ack_after_h is not None else None
    absent_at_due = ack is None or ack > until or ack > due
    assert bool(_raised(sim.emitted, "kvittering", SOC)) is (until >= due and absent_at_due)


def _traffic(seed: int) -> list[Envelope]:
    return Simulator(start=START, episodes=6, seed=seed, bad_share=0).events()


def _interleave(events: list[Envelope], rng: random.Random) -> list[Envelope]:
    """A random merge of the episodes' own sequences (each keeps its order)."""
    queues: dict[str, list[Envelope]] = {}
    for e in events:
        queues.setdefault(e.episode_id, []).append(e)
    out: list[Envelope] = []
    while queues:
        key = rng.choice(sorted(queues))
        out.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return out


UNTIL = START + dt.timedelta(days=12)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=5), st.randoms(use_true_random=False))
def test_any_interleaving_that_keeps_each_episodes_order_gives_the_same_report(
        seed: int, rng: random.Random) -> None:
    events = _traffic(seed)
    engine = _engine()
    base = simulate(engine, events, UNTIL).reports(engine, UNTIL)
    again = simulate(engine, _interleave(events, rng), UNTIL).reports(engine, UNTIL)
    assert again == base
    assert any(r.alerts for r in base)  # the traffic breaks deadlines: the check has teeth


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=5), st.randoms(use_true_random=False))
def test_duplicates_change_nothing(seed: int, rng: random.Random) -> None:
    events = _traffic(seed)
    engine = _engine()
    base = simulate(engine, events, UNTIL)
    with_dupes = list(events)
    for _ in range(len(events) // 3):
        original = rng.choice(events)
        later = next(i for i, e in enumerate(with_dupes) if e is original)
        with_dupes.insert(rng.randint(later + 1, len(with_dupes)), original)
    again = simulate(engine, with_dupes, UNTIL)
    assert again.reports(engine, UNTIL) == base.reports(engine, UNTIL)
    assert [e.to_bytes() for e in again.emitted] == [e.to_bytes() for e in base.emitted]
