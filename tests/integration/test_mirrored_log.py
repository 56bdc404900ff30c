"""The API's local mirror of Kafka: records keep the partition and offset Kafka gave them, a
record mirrored twice is stored once, writes go to the forward (Kafka) and never straight into
the file, and a write Kafka does not take answers 503 with Retry-After and stores nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.domain.clock import FakeClock
from hub.errors import LogError, TransportError
from hub.schemas import topics
from hub.settings import ApiKey, ApiSettings, HubSettings, Role
from hub.streams.ingest import Ingestor
from hub.streams.kafka.mirror import MirroredLog, _table_key
from hub.streams.log import Append, Appended, Record

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
EXAMPLE = (Path(__file__).parents[2] / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()


class Forward:
    def __init__(self) -> None:
        self.sent: list[Append] = []
        self.down = False

    def __call__(self, records: Sequence[Append]) -> list[Appended]:
        if self.down:
            raise TransportError("Kafka did not acknowledge: RequestTimedOutError", retry_after=2.0)
        start = len(self.sent)
        self.sent.extend(records)
        return [Appended(r.topic, 2, 100 + start + i) for i, r in enumerate(records)]


def _record(offset: int, partition: int = 1, value: bytes = b"{}") -> Record:
    return Record(topics.ALERTS, partition, offset, "VLL-2026-1", value, 0)


def test_records_keep_their_kafka_positions_and_are_stored_once(tmp_path: Path) -> None:
    log = MirroredLog(tmp_path / "m.db", Forward())
    log.mirror_topic(topics.ALERTS, 6)
    with log.local_transaction() as tx:
        tx.put_records([_record(7), _record(9, value=b'{"n": 9}')])
    with log.local_transaction() as tx:
        tx.put_records([_record(9, value=b'{"again": true}'), _record(12, partition=5)])
    assert log.partitions(topics.ALERTS) == 6
    assert [(r.offset, r.value) for r in log.read(topics.ALERTS, 1, 0, 10)] == [(7, b"{}"), (9, b'{"n": 9}')]
    assert log.end_offset(topics.ALERTS, 1) == 10 and log.end_offset(topics.ALERTS, 5) == 13
    assert [r.offset for r in log.read(topics.ALERTS, 1, 8, 10)] == [9]  # a reader resumes past a gap
    log.close()


def test_partition_count_adopted_while_empty_refused_once_it_holds_records(tmp_path: Path) -> None:
    log = MirroredLog(tmp_path / "m.db", Forward())
    log.create_topic(topics.AUDIT, 1)
    log.mirror_topic(topics.AUDIT, 4)  # nothing stored yet: the source's layout wins
    assert log.partitions(topics.AUDIT) == 4
    with log.local_transaction() as tx:
        tx.put_records([Record(topics.AUDIT, 3, 0, "ops", b"{}", 0)])
    with pytest.raises(LogError, match="4 here"):
        log.mirror_topic(topics.AUDIT, 8)
    log.close()


def test_appends_go_to_kafka_not_to_the_file(tmp_path: Path) -> None:
    forward = Forward()
    log = MirroredLog(tmp_path / "m.db", forward)
    (at,) = log.append([Append(topics.OPS, "x", b"{}")])
    assert at == Appended(topics.OPS, 2, 100)  # Kafka's position, returned to the caller
    assert [r.topic for r in forward.sent] == [topics.OPS]
    assert log.count(topics.OPS) == 0  # it comes back through the mirror, at that position
    log.close()


def test_a_write_kafka_does_not_take_is_a_503_with_retry_after(tmp_path: Path) -> None:
    forward = Forward()
    forward.down = True
    log = MirroredLog(tmp_path / "m.db", forward)
    keys = (ApiKey(key=SecretStr("k"), principal="region", role=Role.REGION),)
    settings = HubSettings(api=ApiSettings(keys=keys))
    app = create_app(ApiContext(settings, log, FakeClock(NOW), ingestor=Ingestor(log, FakeClock(NOW))))
    with TestClient(app) as client:
        answer = client.post("/inbound/prator", content=EXAMPLE,
                             headers={"Authorization": "Bearer k", "Content-Type": "application/xml"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert "did not acknowledge" in answer.json()["detail"]
    assert forward.sent == [] and log.count(topics.EVENTS) == 0
    log.close()


def test_faust_table_keys_are_read_as_the_processor_wrote_them() -> None:
    assert _table_key(b'"VLL-2026-000001"') == "VLL-2026-000001"
    assert _table_key(b"VLL-2026-000001") == "VLL-2026-000001"
    assert _table_key(b'"unterminated') == '"unterminated'


async def test_inbox_files_wait_while_kafka_refuses(tmp_path: Path) -> None:
    import asyncio

    from hub.streams import prator_files

    forward = Forward()
    forward.down = True
    log = MirroredLog(tmp_path / "m.db", forward)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(EXAMPLE)
    stop = asyncio.Event()
    task = asyncio.create_task(prator_files.watch(inbox, log, FakeClock(NOW), stop, every=0.05))
    await asyncio.sleep(0.2)
    assert (inbox / "a.xml").exists() and not task.done()  # kept, and the watcher goes on
    forward.down = False
    async def moved() -> None:
        while not (inbox / "processed" / "a.xml").exists():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(moved(), 30)  # a hang guard
    stop.set()
    await task
    assert [r.topic for r in forward.sent] == [topics.EVENTS]
    log.close()
