"""Soak: `hub run` (every processor, the demo directory) under mixed traffic for 10 minutes —
HL7 v2 over MLLP paced on one connection, each episode admitted, moved, updated and discharged
(so episodes open and close all the time), and Prator XML over HTTP. Every interval it prints the
resident memory of the hub's processes and that interval's ACK p50 / p99; at the end the RSS
growth after warm-up (the first interval is the baseline) and the last interval's p99 against
the first's.

Usage: ``python -m bench.soak [--seconds 600] [--interval 60] [--rate 200] [--http-rate 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import emit, note
from bench.deployed import start_hub
from hub.adapters.hl7.transport import END, frame
from tests.support.hl7 import adt

ROOT = Path(__file__).resolve().parents[1]
PRATOR = (ROOT / "contracts" / "prator" / "example-inskrivningsmeddelande.xml").read_bytes()
TRIGGERS = ("A01", "A02", "A08", "A03")
KEY = "soak-region"


def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc), in MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


async def mllp(port: int, rate: float, until: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start, i = time.perf_counter(), 0
    while time.perf_counter() < until:
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        episode = i // 4  # a new episode every four messages, discharged at the fourth
        writer.write(frame(adt(TRIGGERS[i % 4], control=f"S{i:09d}", visit=f"S{episode}",
                               ward=("V00^^^NUS", "V01^^^NUS")[episode % 2]).encode()))
        t0 = time.perf_counter()
        await writer.drain()
        await reader.readuntil(END + b"\r")
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    writer.close()
    await writer.wait_closed()


async def http(api: str, rate: float, until: float, codes: dict[int, int]) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/xml"}
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        start, i = time.perf_counter(), 0
        while time.perf_counter() < until:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = PRATOR.replace(b"VLL-2026-000042", f"VLL-2026-{500000 + i:06d}".encode())
            r = await client.post("/inbound/prator", content=body, headers=headers)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            i += 1


async def soak(seconds: float, interval: float, rate: float, http_rate: float, folder: Path) -> None:
    import json

    keys = json.dumps([{"key": KEY, "principal": "soak", "role": "region"}])
    proc, port, api = start_hub(folder, extra_env={"HUB_API__KEYS": keys})
    try:
        latencies: list[float] = []
        codes: dict[int, int] = {}
        until = time.perf_counter() + seconds
        tasks = [asyncio.create_task(mllp(port, rate, until, latencies)),
                 asyncio.create_task(http(api, http_rate, until, codes))]
        rows = []
        minute, taken = 0, 0
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=interval)
            minute += 1
            window, taken = latencies[taken:], len(latencies)
            if len(window) < 2:
                continue
            cuts = statistics.quantiles(window, n=100)
            row = (rss_mib(proc.pid), cuts[49], cuts[98], len(window))
            rows.append(row)
            emit(f"soak.interval_{minute}", row[0], "MiB RSS", ack_p50_ms=round(row[1], 2),
                 ack_p99_ms=round(row[2], 2), messages=row[3])
        for t in tasks:
            t.result()
        note(f"soak: HTTP answers {codes}")
        first, last = rows[0], rows[-1]
        emit("soak.rss_after_warmup", last[0], "MiB", first[0], goal="growth < 10 %")
        emit("soak.ack_p99_last_vs_first_interval", last[2], "ms", first[2], goal="not rising")
        emit("soak.ack_p50_last_vs_first_interval", last[1], "ms", first[1])
    finally:
        proc.terminate()
        proc.wait(60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.soak")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the soak (default 600)")
    parser.add_argument("--interval", type=float, default=60.0, help="reporting interval (default 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="MLLP messages/s (default 200)")
    parser.add_argument("--http-rate", type=float, default=10.0, help="Prator HTTP messages/s (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(soak(args.seconds, args.interval, args.rate, args.http_rate, Path(tmp)))


if __name__ == "__main__":
    main()
