"""MLLP framing and identity over loopback: exactly one reply per received frame (a stray start
byte inside a frame is data), an oversized frame skipped to its own end byte with the next frame
of the same read answered, the caps on connections, an NE|AL sender answered AA, and a reused
control id processed as a new message with one data-quality alert."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import END, START, frame, send
from hub.bootstrap import Hub, build_hub, start_hl7
from hub.schemas import topics
from hub.settings import HubSettings, LogSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt, msh


def _hub(tmp_path: Path, **hl7: object) -> Hub:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           hl7=Hl7Settings(port=0, wards=WARDS, **hl7))  # type: ignore[arg-type]
    return build_hub(settings, clock=SystemClock(), processors=[])


def _msa(ack: bytes) -> list[str]:
    return next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")


async def _replies(reader: asyncio.StreamReader, n: int) -> list[bytes]:
    return [(await asyncio.wait_for(reader.readuntil(END + b"\r"), 5))[1:-2] for _ in range(n)]


async def _nothing_more(reader: asyncio.StreamReader) -> bool:
    try:
        await asyncio.wait_for(reader.readuntil(END + b"\r"), 0.3)
    except TimeoutError:
        return True
    return False


async def test_a_stray_start_byte_inside_a_frame_gives_one_reply(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    server, _ = await start_hl7(hub)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        pasted = adt(control="VT1", name="Tolvansson^Tolvan").replace("Storgatan 1", "Storgatan\x0b1")
        writer.write(frame(pasted.encode()) + frame(adt(control="VT2").encode()))
        await writer.drain()
        first, second = await _replies(reader, 2)
        assert (_msa(first)[1:3], _msa(second)[1:3]) == (["AA", "VT1"], ["AA", "VT2"])
        assert await _nothing_more(reader)
        writer.close()
    finally:
        await server.close()
        hub.close()


async def test_an_oversized_frame_is_skipped_to_its_end_and_the_next_frame_answered(tmp_path: Path) -> None:
    hub = _hub(tmp_path, max_message_bytes=2048)
    server, _ = await start_hl7(hub)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        big = adt(control="BIG1", name="X" * 9000 + "^Y").encode()
        writer.write(frame(big) + frame(adt(control="NEXT").encode()))  # one write, often one read
        await writer.drain()
        refused, ok = await _replies(reader, 2)
        assert _msa(refused)[1:3] == ["AR", "BIG1"]  # MSA-2 from the frame's readable MSH
        assert _msa(ok)[1:3] == ["AA", "NEXT"]
        writer.write(START + big[:3000])  # and split across reads
        await writer.drain()
        (refused,) = await _replies(reader, 1)
        writer.write(big[3000:] + END + b"\r" + frame(adt(control="NEXT2").encode()))
        await writer.drain()
        (ok,) = await _replies(reader, 1)
        assert (_msa(refused)[1], _msa(ok)[1:3]) == ("AR", ["AA", "NEXT2"])
        assert await _nothing_more(reader)
        writer.close()
    finally:
        await server.close()
        hub.close()


async def test_connections_beyond_the_cap_are_closed(tmp_path: Path) -> None:
    hub = _hub(tmp_path, max_connections=2)
    server, _ = await start_hl7(hub)
    try:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        assert server.refused_connections == 1
        for r, w in held:
            w.write(frame(adt(control=f"K{id(w)}").encode()))
            await w.drain()
            assert _msa((await _replies(r, 1))[0])[1] == "AA"
            w.close()
        writer.close()
    finally:
        await server.close()
        hub.close()


async def test_ne_al_sender_gets_its_application_ack(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    server, _ = await start_hl7(hub)
    try:
        text = adt(control="NEAL").replace(msh(control="NEAL"), msh(control="NEAL", accept_ack="NE", app_ack="AL"))
        (reply,) = await send("127.0.0.1", server.port, [text.encode()])
        assert _msa(reply)[1:3] == ["AA", "NEAL"]
    finally:
        await server.close()
        hub.close()


async def test_same_control_id_with_other_content_is_a_new_message_and_one_alert(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    server, ingest = await start_hl7(hub)
    try:
        first = adt(control="R1", visit="V1").encode()
        resent = first.replace(b"20260302083000", b"20260302083500")  # MSH-7 restamped: still a re-send
        other = adt("A03", control="R1", visit="V1", discharge="202603061500").encode()
        other_again = adt("A03", control="R1", visit="V1", discharge="202603061500").encode()
        third = adt("A08", control="R1", visit="V1").encode()
        acks = await send("127.0.0.1", server.port, [first, resent, other, other_again, third])
        assert all(_msa(a)[1:3] == ["AA", "R1"] for a in acks)
        events = [orjson.loads(r.value) for p in range(hub.log.partitions(topics.EVENTS))
                  for r in hub.log.read(topics.EVENTS, p, 0, 100)]
        assert len(events) == 3  # first, other, third; the two re-sends are not processed again
        assert len({e["id"] for e in events}) == 3
        assert ingest.duplicates == 2 and ingest.reused == 2
        alerts = [orjson.loads(r.value) for p in range(hub.log.partitions(topics.ALERTS))
                  for r in hub.log.read(topics.ALERTS, p, 0, 100)]
        assert [a["data"]["detail"] for a in alerts] == ["MSH-10: control id reused with other content: "
                                                         "messages processed, counted in GET /held/notes"]
    finally:
        await server.close()
        hub.close()
