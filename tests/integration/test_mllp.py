"""The MLLP endpoint over loopback with a real client: ACK only after the durable write, NAK with
segment and field for bad input, the connection keeps serving, re-sent messages are processed
once, and framing faults are dead-lettered."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import orjson
import pytest

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import END, START, frame, send
from hub.bootstrap import Hub, build_hub, start_hl7
from hub.schemas import topics
from hub.settings import HubSettings, LogSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt


def _hub(tmp_path: Path, **hl7: object) -> Hub:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           hl7=Hl7Settings(port=0, wards=WARDS, **hl7))  # type: ignore[arg-type]
    return build_hub(settings, clock=SystemClock())


def _msa(ack: bytes) -> list[str]:
    return next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")


def _err(ack: bytes) -> str:
    return next((s for s in ack.decode().split("\r") if s.startswith("ERR")), "")


def _values(hub: Hub, topic: str) -> list[bytes]:
    return [r.value for p in range(hub.log.partitions(topic)) for r in hub.log.read(topic, p, 0, 10_000)]


async def test_ack_after_durable_write_and_naks_that_name_the_field(tmp_path: Path) -> None:
    hub = _hub(tmp_path, ack_policy="strict")  # strict: AE also for what the hub cannot place
    server, ingest = await start_hl7(hub)
    try:
        messages = [adt(control="M1").encode(), adt(control="M2", ward="X9^^^NUS").encode(),
                    b"this is not HL7", adt(control="M3", version="2.1").encode(),
                    adt("A03", control="M4", discharge="202603061500").encode(), adt(control="M1").encode()]
        acks = await send("127.0.0.1", server.port, messages)
        assert [_msa(a)[1] for a in acks] == ["AA", "AE", "AR", "AR", "AA", "AA"]
        assert "PV1^1^3" in _err(acks[1]) and "204" in _err(acks[1])
        assert "MSH-12" in _msa(acks[3])[3] or "version" in _err(acks[3])
        assert [_msa(a)[2] for a in acks] == ["M1", "M2", "", "M3", "M4", "M1"]
        events = [orjson.loads(v) for v in _values(hub, topics.EVENTS)]
        assert sorted(e["sourcemessageid"] for e in events) == ["COSMIC|NUS|M1", "COSMIC|NUS|M4"]
        assert len(_values(hub, topics.raw("hl7"))) == 6  # everything received is kept raw
        reasons = [orjson.loads(v)["reason"] for v in _values(hub, topics.dlq("hl7"))]
        assert len(reasons) == 3
        assert any("ward 'X9'" in r for r in reasons)
        assert ingest.duplicates == 1
    finally:
        await server.close()
        hub.close()


async def test_framing_faults_are_refused_and_the_connection_goes_on(tmp_path: Path) -> None:
    hub = _hub(tmp_path, max_message_bytes=2048)
    server, _ = await start_hl7(hub)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

        async def reply() -> bytes:
            data = await asyncio.wait_for(reader.readuntil(END + b"\r"), 5)
            return data[1:-2]

        writer.write(b"junk before a frame" + frame(adt(control="F1").encode()))
        outside, ok = await reply(), await reply()
        assert _msa(outside)[1] == "AR" and "outside an MLLP frame" in _err(outside)
        assert _msa(ok)[1] == "AA"
        # a stray start byte inside a frame is data, not a second frame: one frame, one reply
        writer.write(START + adt(control="F2").encode()[:70] + frame(adt(control="F3").encode()))
        writer.write(frame(adt(control="F3b").encode()))
        one, ok = await reply(), await reply()
        assert _msa(one)[2] == "F2"
        assert _msa(ok)[2] == "F3b"
        writer.write(frame(adt(control="BIG", name="X" * 5000 + "^Y").encode()))
        big = await reply()
        assert "size limit" in _err(big)
        writer.write(adt(control="F4").encode() + END + b"")  # a missing final CR is tolerated
        writer.write(START + adt(control="F5").encode() + END)
        writer.write(b"\r")
        writer.write(frame(adt(control="F6").encode()))
        await writer.drain()
        tail = [await reply() for _ in range(3)]
        assert [_msa(a)[1] for a in tail][1:] == ["AA", "AA"]
        writer.close()
        dead = [orjson.loads(v)["reason"] for v in _values(hub, topics.dlq("hl7"))]
        assert any("outside" in r for r in dead)
        assert any("size limit" in r for r in dead)
    finally:
        await server.close()
        hub.close()


async def test_many_connections_share_group_commits(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    server, ingest = await start_hl7(hub)
    try:
        batches = [[adt(control=f"C{c}-{i}", visit=f"V{c}").encode() for i in range(20)] for c in range(8)]
        results = await asyncio.gather(*(send("127.0.0.1", server.port, b) for b in batches))
        assert all(_msa(a)[1] == "AA" for acks in results for a in acks)
        assert [[_msa(a)[2] for a in acks] for acks in results] == [[f"C{c}-{i}" for i in range(20)] for c in range(8)]
        assert hub.log.count(topics.EVENTS) == 160
        assert ingest.committer.batches < 160  # several messages per transaction
    finally:
        await server.close()
        hub.close()


@pytest.mark.parametrize("mode", ["NE", "ER"])
async def test_enhanced_mode_sends_commit_acks_only_when_asked(tmp_path: Path, mode: str) -> None:
    hub = _hub(tmp_path, ack_policy="strict")
    server, _ = await start_hl7(hub)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frame(adt(control="E1", accept_ack=mode).encode()))
        writer.write(frame(adt(control="E2", accept_ack=mode, ward="X^^^NUS").encode()))
        await writer.drain()
        data = await asyncio.wait_for(reader.readuntil(END + b"\r"), 5) if mode == "ER" else b""
        if mode == "ER":
            assert _msa(data[1:-2])[1:3] == ["CE", "E2"]
        writer.close()
        await asyncio.sleep(0.1)
        assert hub.log.count(topics.EVENTS) == 1
    finally:
        await server.close()
        hub.close()


def test_receive_time_header_is_kept(tmp_path: Path) -> None:
    hub = _hub(tmp_path)

    async def run() -> None:
        server, _ = await start_hl7(hub)
        try:
            await send("127.0.0.1", server.port, [adt(control="H1").encode()])
        finally:
            await server.close()

    asyncio.run(run())
    (record,) = [r for p in range(4) for r in hub.log.read(topics.raw("hl7"), p, 0, 10)]
    headers = dict(record.headers)
    assert dt.datetime.fromisoformat(headers["received-at"].decode().replace("Z", "+00:00"))
    assert headers["connection"].startswith(b"mllp:127.0.0.1:")
    hub.close()
