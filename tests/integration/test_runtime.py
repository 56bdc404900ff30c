"""The embedded runtime over the SQLite log with the timeline read model and a counting processor."""

from __future__ import annotations

import datetime as dt

import orjson

from hub.domain.clock import FakeClock
from hub.domain.timeline import Timeline, TimelineProcessor
from hub.schemas import topics
from hub.schemas.payloads import MessageAcknowledged, PatientAdmitted, PatientDischarged
from hub.streams.ingest import Ingestor
from hub.streams.log import Append
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog
from tests.samples import SOC, WARD, event, patient, t
from tests.support.processors import CountingProcessor


def _timeline(log: SqliteLog, episode: str) -> Timeline:
    raw = log.get_state("timeline", episode)
    assert raw is not None
    return TimelineProcessor.view(TimelineProcessor().decode_state(raw))


def test_timeline_orders_events_of_every_source_by_event_time(sqlite_log: SqliteLog, clock: FakeClock) -> None:
    ing = Ingestor(sqlite_log, clock)
    late_first = event(PatientDischarged(ward=WARD, discharged_at=t(80)), seq=3, at=t(80), source="/ehr")
    ack = event(MessageAcknowledged(message_id="N1", unit=SOC, acknowledged_at=t(9)), seq=2,
                at=t(9), source="/kommun/2480")
    admit = event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), seq=1, at=t(0),
                  source="/ehr")
    ing.submit_events([late_first, ack, admit, ack])  # ack twice: a re-delivery
    rt = EmbeddedRuntime(sqlite_log, [TimelineProcessor()], clock)
    assert rt.run_until_idle() == 4
    tl = _timeline(sqlite_log, "VLL-2026-000001")
    assert [e.id for e in tl.entries] == [admit.id, ack.id, late_first.id]
    assert {e.source for e in tl.entries} == {"/ehr", "/kommun/2480"}
    assert tl.municipalities == ["2480"]
    assert WARD in tl.units and SOC in tl.units


def test_outputs_state_and_position_are_one_transaction(sqlite_log: SqliteLog, clock: FakeClock, monkeypatch) -> None:
    Ingestor(sqlite_log, clock).submit_events(
        [event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), f"E{i}", seq=i)
         for i in range(20)])
    rt = EmbeddedRuntime(sqlite_log, [CountingProcessor()], clock, batch_size=5)
    real = SqliteLog.transaction
    calls = {"n": 0}

    def failing(self):  # the 3rd write transaction dies as if the process were killed in it
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(SqliteLog, "transaction", failing)
    try:
        rt.run_until_idle()
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(SqliteLog, "transaction", real)
    committed = sqlite_log.count(CountingProcessor.OUTPUT)
    assert committed == sum(sqlite_log.positions("counting").offsets.values())
    # a new runtime (a restart) resumes at the committed position: every input once
    rt2 = EmbeddedRuntime(sqlite_log, [CountingProcessor()], clock, batch_size=5)
    rt2.run_until_idle()
    assert sqlite_log.count(CountingProcessor.OUTPUT) == 20
    ids = []
    for p in range(sqlite_log.partitions(CountingProcessor.OUTPUT)):
        ids += [orjson.loads(r.value)["data"]["source_event_id"]
                for r in sqlite_log.read(CountingProcessor.OUTPUT, p, 0, 100)]
    assert len(ids) == len(set(ids)) == 20


def test_timers_fire_once_when_due_and_survive_a_restart(sqlite_log: SqliteLog, clock: FakeClock) -> None:
    Ingestor(sqlite_log, clock).submit_events(
        [event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)))])
    proc = CountingProcessor(wake_after=dt.timedelta(hours=24))
    EmbeddedRuntime(sqlite_log, [proc], clock).run_until_idle()
    clock.advance(dt.timedelta(hours=23, minutes=59))
    rt = EmbeddedRuntime(sqlite_log, [proc], clock)  # a restart: timers come from the log
    rt.run_until_idle()
    state = proc.decode_state(sqlite_log.get_state("counting", "VLL-2026-000001") or b"")
    assert state.fired == 0
    clock.advance(dt.timedelta(minutes=1))
    rt.run_until_idle()
    rt.run_until_idle()
    state = proc.decode_state(sqlite_log.get_state("counting", "VLL-2026-000001") or b"")
    assert state.fired == 1
    assert sqlite_log.next_timer("counting") is None


def test_a_failing_event_goes_to_the_dead_letter_topic_and_processing_goes_on(
        sqlite_log: SqliteLog, clock: FakeClock, caplog) -> None:
    evs = [event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), seq=i)
           for i in range(3)]
    Ingestor(sqlite_log, clock).submit_events(evs)
    sqlite_log.append([Append(topics.EVENTS, "VLL-2026-000001", b"{not json")])
    rt = EmbeddedRuntime(sqlite_log, [CountingProcessor(fail_on=evs[1].source_message_id)], clock)
    rt.run_until_idle()
    assert sqlite_log.count(CountingProcessor.OUTPUT) == 2
    dlq = topics.dlq("processor-counting")
    letters = [orjson.loads(r.value) for p in range(4) for r in sqlite_log.read(dlq, p, 0, 10)]
    reasons = sorted(letter["reason"] for letter in letters)
    assert reasons == ["invalid event on the log", "processor counting failed: RuntimeError"]
    assert rt.stats()["counting"].failures == 2
    assert "191212121212" not in caplog.text


def test_replay_from_offset_zero_gives_the_same_read_model(sqlite_log: SqliteLog, clock: FakeClock) -> None:
    from hub.demo.simulator import Simulator

    sim = Simulator(start=dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC), episodes=25, seed=7)
    Ingestor(sqlite_log, clock).submit("demo", [s.raw for s in sim.traffic()])
    rt = EmbeddedRuntime(sqlite_log, [TimelineProcessor()], clock, batch_size=37)
    rt.run_until_idle()
    before = dict(sqlite_log.scan_states("timeline"))
    assert len(before) == 25
    rt.reset()
    assert dict(sqlite_log.scan_states("timeline")) == {}
    rt.run_until_idle()
    assert dict(sqlite_log.scan_states("timeline")) == before
