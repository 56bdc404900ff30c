"""The deployed shape: `hub run` as its own process, with every processor running and the demo
directory (Västerbotten), HL7 v2 over MLLP on loopback.

- paced at 500 messages/s on one connection for 60 s (``--seconds``): ACK latency p50/p99;
- unpaced over 8 connections: messages/s;
- then the time until every processor's lag is back to 0 (from ``/ready``).

Baseline from the same run: the same MLLP endpoint and group commit in this process without any
processor (what ``bench hl7`` measures), so the ratio shows what the processors cost a sender.
Usage: ``python -m bench.deployed [--seconds 60] [--unpaced 16000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.resources import files
from pathlib import Path

from bench.common import emit, note
from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import END, frame
from hub.bootstrap import build_hub, start_hl7
from hub.settings import HubSettings, LogSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt

ROOT = Path(__file__).resolve().parents[1]
TRIGGERS = ("A01", "A02", "A08", "A03")


def message(tag: str, i: int) -> bytes:
    """ADT traffic over 997 episodes (admission, transfer, update, discharge)."""
    return adt(TRIGGERS[i % 4], control=f"{tag}{i:08d}", visit=f"{tag}V{i % 997}", name="Åström^Märta",
               ward=("V00^^^NUS", "V01^^^NUS")[i % 2], discharge="202603061500").encode()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def paced(port: int, tag: str, seconds: float, rate: float = 500.0) -> tuple[float, float, float]:
    """One connection at ``rate`` messages/s: (achieved rate, p50 ms, p99 ms)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(int(seconds * rate)):
        if time.perf_counter() - start > seconds:  # a server that cannot keep up: the same duration
            break
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.perf_counter()
        writer.write(frame(message(tag, i)))
        await writer.drain()
        await reader.readuntil(END + b"\r")
        latencies.append((time.perf_counter() - t0) * 1000)
    achieved = len(latencies) / (time.perf_counter() - start)
    writer.close()
    await writer.wait_closed()
    cuts = statistics.quantiles(latencies, n=100)
    return achieved, cuts[49], cuts[98]


async def unpaced(port: int, tag: str, total: int, connections: int = 8) -> float:
    async def one(c: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(c, total, connections):
            writer.write(frame(message(tag, i)))
            await writer.drain()
            await reader.readuntil(END + b"\r")
        writer.close()
        await writer.wait_closed()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(connections)))
    return total / (time.perf_counter() - t0)


async def no_processors(folder: Path, seconds: float, total: int) -> tuple[float, float, float, float]:
    settings = HubSettings(log=LogSettings(path=folder / "base.db"), hl7=Hl7Settings(port=0, wards=WARDS))
    hub = build_hub(settings, clock=SystemClock(), processors=[])
    server, _ = await start_hl7(hub)
    try:
        rate, p50, p99 = await paced(server.port, "B", seconds)
        return rate, p50, p99, await unpaced(server.port, "C", total)
    finally:
        await server.close()
        hub.close()


def _lag(api: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{api}/ready", timeout=5) as r:
            body = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    except OSError:
        return None
    lag = body.get("checks", {}).get("processors", {}).get("lag")
    return sum(lag.values()) if isinstance(lag, dict) else None


def start_hub(folder: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int, str]:
    mllp, api = _port(), _port()
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_LOG__PATH": str(folder / "hub.db"),
           "HUB_HL7__PORT": str(mllp), "HUB_API__PORT": str(api), "HUB_ENGINE__DIRECTORY": str(directory),
           "HUB_ENGINE__RULE_PACK": "vasterbotten", **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "run"], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{api}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _lag(url) is not None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", mllp)) == 0:
                    return proc, mllp, url
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("hub run did not start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.deployed")
    parser.add_argument("--seconds", type=float, default=60.0, help="paced run length (default 60)")
    parser.add_argument("--unpaced", type=int, default=16000, help="messages over 8 connections")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        note(f"deployed: baseline without processors ({args.seconds:g} s paced, {args.unpaced} unpaced)")
        b_rate, b_p50, b_p99, b_unpaced = asyncio.run(no_processors(folder, args.seconds, args.unpaced))
        proc, mllp, api = start_hub(folder)
        try:
            note("deployed: hub run with every processor and the demo directory")
            rate, p50, p99 = asyncio.run(paced(mllp, "P", args.seconds))
            many = asyncio.run(unpaced(mllp, "U", args.unpaced))
            t0 = time.perf_counter()
            while (lag := _lag(api)) != 0:
                if time.perf_counter() - t0 > 600:
                    break
                time.sleep(0.1)
            drained = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(60)
    emit("deployed.mllp.paced_500_per_s.rate", rate, "messages/s", b_rate)
    emit("deployed.mllp.ack_latency_p50", p50, "ms", b_p50)
    emit("deployed.mllp.ack_latency_p99", p99, "ms", b_p99, goal=10)
    emit("deployed.mllp.unpaced_8_connections", many, "messages/s", b_unpaced, goal=2000)
    emit("deployed.processors.lag_after", float(lag or 0), "records", goal=0)
    emit("deployed.processors.seconds_to_lag_0", drained, "s")


if __name__ == "__main__":
    main()
