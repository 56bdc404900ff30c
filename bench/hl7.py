"""HL7 v2 ADT: parse rates of hl7apy, python-hl7 and the hub's parser + canonical mapping on the
same messages, and an MLLP round trip over loopback with durable acknowledgements (paced at
500 messages/s: p50/p99 ACK latency; unpaced over 8 connections: messages/s)."""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import hl7 as python_hl7
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from stdnum import luhn

from bench.common import best_of, emit, note
from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.mapping import canonical
from hub.adapters.hl7.parse import hl7_time
from hub.adapters.hl7.transport import END, frame, send
from hub.bootstrap import build_hub, start_hl7
from hub.settings import HubSettings, LogSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt, lookup

NOW = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)


def _personnummer(i: int) -> str:
    """A valid personnummer of the test series (980–999), different for each ``i``."""
    day = dt.date(1930, 1, 1) + dt.timedelta(days=(i * 37) % 25_000)
    serial = f"{day:%y%m%d}{980 + i % 20}"
    return f"{day.year // 100}{serial}{luhn.calc_check_digit(serial)}"


def corpus(n: int) -> list[bytes]:
    """A feed's mix: four triggers, about three messages per patient and episode, times that
    differ from message to message (so no cache sees the same values over and over)."""
    triggers = ("A01", "A02", "A03", "A08")
    out = []
    for i in range(n):
        patient = i // 3
        at = dt.datetime(2026, 3, 2, 8) + dt.timedelta(minutes=7 * i)
        out.append(adt(triggers[i % 4], control=f"B{i:07d}", visit=f"V{patient}",
                       pid3=f"{_personnummer(patient)}^^^&1.2.752.129.2.1.3.1&ISO^NNSWE",
                       name="Åström^Märta", ward="V00^^^NUS" if patient % 2 else "V01^^^NUS",
                       admit=f"{at:%Y%m%d%H%M}", evn=f"{at:%Y%m%d%H%M%S}",
                       discharge=f"{at + dt.timedelta(days=3):%Y%m%d%H%M}").encode())
    return out


def rate(messages: list[bytes], fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for m in messages:
        fn(m)
    return len(messages) / (time.perf_counter() - t0)


async def measure(port: int, *, prefix: bytes = b"") -> tuple[float, float, float, float]:
    """Against an MLLP server: paced at 500/s (rate, p50 and p99 ACK latency in ms), then unpaced
    over 8 connections (messages/s)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies = []
    start = time.perf_counter()
    for i, message in enumerate(corpus(2000)):
        due = start + i / 500
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.perf_counter()
        writer.write(frame(message.replace(b"B0", b"P" + prefix + b"0")))
        await writer.drain()
        await reader.readuntil(END + b"\r")
        latencies.append((time.perf_counter() - t0) * 1000)
    paced_rate = len(latencies) / (time.perf_counter() - start)
    writer.close()
    cuts = statistics.quantiles(latencies, n=100)
    many = [corpus(4000)[c::8] for c in range(8)]
    t0 = time.perf_counter()
    await asyncio.gather(*(send("127.0.0.1", port, [m.replace(b"B0", b"U" + prefix + b"0") for m in batch])
                           for batch in many))
    unpaced = 4000 / (time.perf_counter() - t0)
    return paced_rate, cuts[49], cuts[98], unpaced


async def round_trip(folder: Path) -> tuple[float, float, float, float]:
    """The embedded hub's MLLP endpoint (SQLite group commit)."""
    settings = HubSettings(log=LogSettings(path=folder / "hub.db"), hl7=Hl7Settings(port=0, wards=WARDS))
    hub = build_hub(settings, clock=SystemClock())
    server, _ = await start_hl7(hub)
    try:
        return await measure(server.port)
    finally:
        await server.close()
        hub.close()


def main() -> None:
    messages = corpus(6000)
    note(f"hl7: {len(messages)} ADT messages, one core (one Python thread), best of several runs each")
    apy = best_of(3, lambda: rate(messages[:300], lambda m: parse_message(
        m.decode(), validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)))
    phl7 = best_of(3, lambda: rate(messages, lambda m: python_hl7.parse(m.decode())))
    hl7_time.cache_clear()  # times of this corpus are new to the cache
    ours = best_of(5, lambda: rate(messages, lambda m: canonical(m, lookup, NOW)))
    stored = best_of(3, lambda: rate(messages, lambda m: canonical(m, lookup, NOW).events[0].to_json()))
    emit("hl7.parse.hl7apy", apy, "messages/s")
    emit("hl7.parse.python-hl7", phl7, "messages/s")
    emit("hl7.parse_canonicalize.hub_vs_hl7apy", ours, "messages/s", apy, goal=20000, goal_ratio=200)
    emit("hl7.parse_canonicalize.hub_vs_python-hl7", ours, "messages/s", phl7)
    emit("hl7.parse_canonicalize_json.hub_vs_hl7apy", stored, "messages/s", apy)
    with tempfile.TemporaryDirectory() as tmp:
        paced, p50, p99, unpaced = asyncio.run(round_trip(Path(tmp)))
    emit("hl7.mllp.paced_500_per_s.rate", paced, "messages/s")
    emit("hl7.mllp.ack_latency_p50", p50, "ms")
    emit("hl7.mllp.ack_latency_p99", p99, "ms", goal=10)
    emit("hl7.mllp.unpaced_8_connections", unpaced, "messages/s", ours)
