"""Fuzzing the MLLP endpoint with seeded mutations of valid ADT messages (a bounded count): no
crash, exactly one reply per frame, every frame stored raw, and a valid message is still
answered AA at the end. A stray start byte (0x0B) is among the mutations; the end byte is not,
since it legitimately ends a frame."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from pathlib import Path

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import canonical
from hub.adapters.hl7.transport import END, frame
from hub.bootstrap import build_hub, start_hl7
from hub.schemas import topics
from hub.settings import HubSettings, LogSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt, lookup, msh, segment

SEEDS = 1
MUTATIONS = 1500
ALPHABET = bytes(b for b in range(256) if b != 0x1C)
NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _bases() -> list[bytes]:
    mrg = segment("MRG", {1: "199001019802^^^&1.2.752.129.2.1.3.1&ISO", 5: "V1"})
    out = [adt(t, control="Z", discharge="202603061500", extra=[mrg] if t == "A40" else None)
           for t in ("A01", "A02", "A03", "A08", "A11", "A40")]
    out.append(adt(version="2.3", accept_ack="AL").replace(msh(version="2.3", accept_ack="AL"),
                                                           msh(version="2.3", accept_ack="AL", app_ack="NE")))
    out.append(adt(charset="8859/1", name="Åström^Örjan"))
    return [m.encode("iso-8859-1" if "8859/1" in m else "utf-8") for m in out]


def mutate(rng: random.Random, raw: bytes, number: int) -> bytes:
    data = bytearray(raw.replace(b"|Z|", f"|Z{number}|".encode()))
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        at = rng.randrange(len(data))
        kind = rng.random()
        if kind < 0.3:
            data[at] = rng.choice(ALPHABET)
        elif kind < 0.5:
            data.insert(at, rng.choice(b"\x0b|^~\\&\r\n\"" + bytes([0xC3, 0xFF, 0x00])))
        elif kind < 0.7:
            del data[at:at + rng.randint(1, 12)]
        elif kind < 0.8:
            data[at:at] = data[rng.randrange(len(data)):][:rng.randint(1, 40)]  # duplicated piece
        elif kind < 0.9:
            del data[at:]
        else:
            data[at:at] = b'""' if rng.random() < 0.5 else b"X" * rng.randint(60, 300)
    return bytes(data)


def test_the_mapping_never_fails_other_than_with_an_hl7_error() -> None:
    rng = random.Random(20261202)
    bases = _bases()
    for number in range(5000):
        raw = mutate(rng, rng.choice(bases), number)
        try:
            canonical(raw, lookup, NOW)
        except Hl7Error as exc:
            found = exc.all
        else:
            found = None
        assert found is None or (found and all(e.text for e in found))


async def test_fuzzed_frames_get_exactly_one_reply_each(tmp_path: Path) -> None:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), hl7=Hl7Settings(port=0, wards=WARDS))
    hub = build_hub(settings, clock=SystemClock(), processors=[])
    server, ingest = await start_hl7(hub)
    rng = random.Random(1312)
    bases = _bases()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        frames = [mutate(rng, rng.choice(bases), n) for n in range(MUTATIONS)]
        frames = [f for f in frames if f.strip(b"\r\n \t\x00\x0b")]  # an empty frame is no message
        replies = 0
        for data in frames:
            writer.write(frame(data))
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(END + b"\r"), 10)
            assert reply.startswith(b"\x0b") and b"MSA" in reply
            replies += 1
        assert replies == len(frames)
        writer.write(frame(adt(control="LAST").encode()))
        await writer.drain()
        last = await asyncio.wait_for(reader.readuntil(END + b"\r"), 10)
        assert b"\rMSA|AA|LAST" in last
        try:  # and nothing else is waiting on the connection
            extra = await asyncio.wait_for(reader.readuntil(END + b"\r"), 0.3)
        except TimeoutError:
            extra = b""
        assert extra == b""
        writer.close()
        assert hub.log.count(topics.raw("hl7")) == len(frames) + 1
        assert ingest.unstored == 0
    finally:
        await server.close()
        hub.close()
