"""Ingest: good events are stored durably, bad ones are refused with a reason naming the field
and kept byte for byte in the dead-letter topic; nothing is dropped."""

from __future__ import annotations

import orjson

from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.schemas.operations import DeadLetter
from hub.schemas.payloads import PatientAdmitted
from hub.streams.ingest import Ingestor
from hub.streams.sqlite_log import SqliteLog
from tests.samples import PNR, WARD, event, patient, t


def _dead_letters(log: SqliteLog, source: str) -> list[DeadLetter]:
    topic = topics.dlq(source)
    return [DeadLetter.model_validate_json(r.value)
            for p in range(log.partitions(topic)) for r in log.read(topic, p, 0, 100)]


def test_good_and_bad_messages_in_one_batch(sqlite_log: SqliteLog, clock: FakeClock) -> None:
    good = event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0))).to_json()
    obj = orjson.loads(good)
    obj["data"]["patient"]["id"] = PNR[:-1] + "0"
    bad_pnr = orjson.dumps(obj)
    truncated = good[:50]
    outcomes = Ingestor(sqlite_log, clock).submit("ehr", [good, bad_pnr, truncated, b"[1, 2]"],
                                                  connection="test")
    assert [o.accepted for o in outcomes] == [True, False, False, False]
    assert outcomes[0].stored_at is not None and outcomes[0].stored_at.topic == topics.EVENTS
    assert outcomes[1].errors[0][0] == "data.patient.id"
    assert "check digit" in outcomes[1].reason and "19121212-****" in outcomes[1].reason
    assert "not valid JSON" in outcomes[2].reason
    assert "JSON object" in outcomes[3].reason
    assert sqlite_log.count(topics.EVENTS) == 1
    letters = _dead_letters(sqlite_log, "ehr")
    assert sorted(letter.raw for letter in letters) == sorted([bad_pnr, truncated, b"[1, 2]"])
    assert all(letter.connection == "test" and letter.reason for letter in letters)
    for letter in letters:  # the reason is safe to show; the raw bytes are kept as they came
        assert PNR not in letter.reason


def test_received_time_is_filled_in_when_missing(sqlite_log: SqliteLog, clock: FakeClock) -> None:
    obj = orjson.loads(event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0))).to_json())
    del obj["receivedtime"]
    (outcome,) = Ingestor(sqlite_log, clock).submit("file", [orjson.dumps(obj)])
    assert outcome.accepted
    (rec,) = [r for p in range(4) for r in sqlite_log.read(topics.EVENTS, p, 0, 10)]
    assert orjson.loads(rec.value)["receivedtime"] == "2026-03-02T08:30:00Z"
