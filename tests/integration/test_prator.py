"""Prator XML: the contract's example parses; bad XML is refused naming element and line and is
dead-lettered; every meddelande the engine routes to a Prator unit renders to XML valid under the
XSD and parses back to the same content, Swedish characters included; the drop-directory target
writes each delivery once."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from pydantic import SecretStr

from hub.adapters.prator.errors import PratorError
from hub.adapters.prator.mapping import parse, render, schema
from hub.api.app import ApiContext, create_app
from hub.bootstrap import Hub, build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.schemas import payloads as p
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role
from hub.streams.delivery import DeliveryWorker, PratorDrop

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


def test_the_contracts_schema_is_the_one_the_adapter_uses() -> None:
    shipped = (files("hub.adapters.prator") / "prator-message.xsd").read_bytes()
    assert shipped == (ROOT / "contracts" / "prator" / "prator-message.xsd").read_bytes()


def test_example_parses_to_an_admission_notice() -> None:
    event = parse(EXAMPLE, NOW)
    assert isinstance(event.data, p.AdmissionNoticeSent)
    assert event.episode_id == "VLL-2026-000042"
    assert event.data.patient.name == "Märta Åström"
    assert event.data.patient.address is not None and event.data.patient.address.street == "Älvvägen 3"
    assert {s.value for s in event.data.needs.expected} == {"socialtjanst", "kommunal_hsv"}
    assert event.time == dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(("mutate", "element", "line", "words"), [
    (lambda x: x.replace(b"</Patient>", b""), "", 23, "not well-formed"),
    (lambda x: x.replace(b"SE2120024803-SOC", b"X-SOC"), "Mottagare", 7, "hsaId"),
    (lambda x: x.replace(b"<Folkbokforingskommun>2480", b"<Folkbokforingskommun>24800"), "Folkbokforingskommun", 13, ""),
    (lambda x: x.replace(b"191212121212", b"191212121213"), "Personnummer", 10, "check digit"),
    (lambda x: x.replace(b"<Vardtyp>somatik", b"<Vardtyp>kirurgi"), "Vardtyp", 18, ""),
])
def test_bad_xml_names_element_and_line(mutate, element: str, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PratorError) as exc:
        parse(mutate(EXAMPLE), NOW)
    assert exc.value.element == element
    assert exc.value.line == line
    assert words in str(exc.value)
    assert "191212121213" not in str(exc.value)


def test_entities_are_not_expanded() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + EXAMPLE.split(b"?>", 1)[1]
    with pytest.raises(PratorError, match="DOCTYPE"):
        parse(evil.replace(b"<Namn>M", b"<Namn>&e;M"), NOW)


@pytest.fixture
def routed(tmp_path: Path) -> Hub:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), engine=EngineSettings(directory=directory),
                           api=ApiSettings(keys=(ApiKey(key=SecretStr("k"), principal="prator-vll", role=Role.REGION),)))
    hub = build_hub(settings, clock=FakeClock(START + dt.timedelta(days=30)))
    hub.ingestor.submit_events(Simulator(start=START, episodes=10, seed=33, bad_share=0).events())
    hub.runtime.run_until_idle()
    return hub


def _prator_deliveries(hub: Hub) -> list[dict]:
    out = []
    for topic in [t for t in hub.log.topics() if t.startswith("svu.deliveries.prator.")]:
        for part in range(hub.log.partitions(topic)):
            out += [orjson.loads(r.value) for r in hub.log.read(topic, part, 0, 1000)]
    return [e for e in out if e["type"] == "se.svu.delivery_requested.v1"]


def test_every_routed_meddelande_renders_valid_xml_and_parses_back(routed: Hub) -> None:
    deliveries = _prator_deliveries(routed)
    kinds = {d["data"]["message_type"] for d in deliveries}
    assert {"admission_notice_sent", "ready_for_discharge"} <= kinds
    for d in deliveries:
        xml = render(d["data"], d["episodeid"])
        assert schema().validate(etree.fromstring(xml))
        back = parse(xml, NOW)
        assert back.episode_id == d["episodeid"]
        assert back.source_message_id == d["data"]["idempotency_key"]
        original = d["data"]["content"]["data"]
        mapped = back.data.model_dump(mode="json", exclude_none=True)
        if "patient" in original:
            assert mapped["patient"]["name"] == original["patient"]["name"]  # å/ä/ö survive
            assert mapped["patient"]["id"] == original["patient"]["id"]
        for key in ("estimated_discharge", "needs", "colour", "sections", "date", "municipality", "discharge_at"):
            if key in original:
                assert mapped[key] == original[key], key
    routed.close()


async def test_drop_directory_target_writes_each_delivery_once(routed: Hub, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    worker = DeliveryWorker(routed.log, PratorDrop(out), routed.clock, system="prator")
    while await worker.run_once():
        pass
    files_written = sorted(out.rglob("*.xml"))
    wanted = {d["data"]["idempotency_key"] for d in _prator_deliveries(routed)}
    assert {f.stem for f in files_written} == wanted
    assert not list(out.rglob("*.tmp"))
    again = DeliveryWorker(routed.log, PratorDrop(out), routed.clock, system="prator")
    with routed.log.transaction() as tx:
        tx.db.execute("DELETE FROM positions WHERE consumer = 'delivery-prator'")
    again.positions = routed.log.positions("delivery-prator")
    while await again.run_once():
        pass
    assert sorted(out.rglob("*.xml")) == files_written
    routed.close()


def test_inbound_endpoint_stores_then_answers_and_refuses_bad_xml(routed: Hub) -> None:
    app = create_app(ApiContext(routed.settings, routed.log, routed.clock, routed.runtime, routed.ingestor,
                                routed.resources))
    with TestClient(app) as client:
        headers = {"Authorization": "Bearer k", "Content-Type": "application/xml"}
        ok = client.post("/inbound/prator", content=EXAMPLE, headers=headers)
        assert ok.status_code == 202
        assert ok.json()["stored_at"].startswith("svu.events:")
        bad = client.post("/inbound/prator", content=EXAMPLE.replace(b"SE2120024803-SOC", b"X"), headers=headers)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["element"] == "Mottagare"
        assert bad.json()["errors"][0]["line"] == 7
    assert routed.log.count("svu.dlq.prator") == 1
    routed.close()


def test_inbox_ingests_files_and_explains_rejections(tmp_path: Path) -> None:
    from hub.streams.prator_files import process_file

    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"))
    hub = build_hub(settings, clock=FakeClock(NOW))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.xml").write_bytes(EXAMPLE)
    (inbox / "bad.xml").write_bytes(EXAMPLE.replace(b"SE2120024803-SOC", b"X"))
    assert process_file(inbox / "good.xml", hub.log, hub.clock) is True
    assert process_file(inbox / "bad.xml", hub.log, hub.clock) is False
    assert (inbox / "processed" / "good.xml").exists()
    reason = (inbox / "rejected" / "bad.xml.reason.txt").read_text()
    assert "Mottagare" in reason and "line 7" in reason
    assert hub.log.count("svu.events") == 1
    assert hub.log.count("svu.dlq.prator") == 1
    hub.close()


async def test_http_target_delivers_valid_xml_once(routed: Hub) -> None:
    from hub.adapters.lifecare.config import LifeCareSettings
    from hub.adapters.lifecare.transport import LifeCareClient
    from hub.streams.delivery import PratorHttp
    from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving

    fake, port = FakeLifeCare(Behaviour(fail_with=[503], retry_after="0.01")), free_port()
    client = LifeCareClient(LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}"))
    try:
        async with serving(fake, port):
            worker = DeliveryWorker(routed.log, PratorHttp(client), routed.clock, system="prator")
            while await worker.run_once():
                pass
    finally:
        await client.close()
    wanted = {d["data"]["idempotency_key"] for d in _prator_deliveries(routed)}
    assert set(fake.received) == wanted
    for message in fake.received.values():
        assert schema().validate(etree.fromstring(message["xml"]))
    routed.close()


def test_an_updated_notice_round_trips_as_an_update() -> None:
    from hub.schemas.envelope import new_event
    from tests.samples import WARD2, patient

    update = p.AdmissionNoticeUpdated(notice_id="N-9", sender=WARD2, reason="ward_transfer", patient=patient())
    ev = new_event(update, episode_id="VLL-2026-000009", source="/t", source_message_id="U-9", time=NOW,
                   received_at=NOW)
    delivery = {"idempotency_key": "K-9", "receiver": "SE2120024803-SOC", "message_type": "admission_notice_updated",
                "content": {"type": ev.type, "time": ev.time.isoformat(),
                            "data": ev.data.model_dump(mode="json", exclude_none=True)}}
    back = parse(render(delivery, "VLL-2026-000009"), NOW)
    assert isinstance(back.data, p.AdmissionNoticeUpdated)
    assert (back.data.reason, back.data.sender) == ("ward_transfer", WARD2)


async def test_a_file_delivery_survives_a_crash_between_write_and_record(routed: Hub, tmp_path: Path,
                                                                         monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from hub.streams.sqlite_log import SqliteLog

    out = tmp_path / "outbox"
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    # 1. killed before the rename: no file, and nothing recorded as delivered
    real_replace = os.replace

    def killed(*args):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    worker = DeliveryWorker(routed.log, PratorDrop(out), routed.clock, system="prator")
    with pytest.raises(KeyboardInterrupt):
        await worker.run_once()
    assert not list(out.rglob("*.xml"))
    assert not routed.log.positions("delivery-prator").offsets
    monkeypatch.setattr(os, "replace", real_replace)
    # 2. killed after the file is durable, before the record: the restart finds the file
    real_tx = SqliteLog.transaction

    def killed_tx(self):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(SqliteLog, "transaction", killed_tx)
    worker = DeliveryWorker(routed.log, PratorDrop(out), routed.clock, system="prator")
    with pytest.raises(KeyboardInterrupt):
        await worker.run_once()
    (first,) = list(out.rglob("*.xml"))
    assert len(synced) >= 2  # the file and its folder, before anything was recorded
    monkeypatch.setattr(SqliteLog, "transaction", real_tx)
    restarted = DeliveryWorker(routed.log, PratorDrop(out), routed.clock, system="prator")
    while await restarted.run_once():
        pass
    wanted = {d["data"]["idempotency_key"] for d in _prator_deliveries(routed)}
    assert {f.stem for f in out.rglob("*.xml")} == wanted and first.stem in wanted
    statuses = []
    for topic in [t for t in routed.log.topics() if t.startswith("svu.deliveries.prator.")]:
        for part in range(routed.log.partitions(topic)):
            statuses += [orjson.loads(r.value)["data"] for r in routed.log.read(topic, part, 0, 1000)
                         if b"delivery_status_changed" in r.value]
    delivered = [s["delivery_id"] for s in statuses if s["status"] == "delivered"]
    assert len(delivered) == len(set(delivered)) == len(wanted)
    routed.close()
