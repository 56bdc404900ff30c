"""SIGKILL the hub while a client streams ADT over MLLP: after a restart, every message the
client got AA for is in the log exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from hub.adapters.hl7.transport import END, frame
from hub.schemas import topics
from hub.streams.sqlite_log import SqliteLog
from tests.support.hl7 import WARDS, adt

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(db: Path, mllp: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_LOG__PATH": str(db), "HUB_HL7__PORT": str(mllp),
           "HUB_HL7__WARDS": json.dumps(WARDS), "HUB_API__PORT": str(_port()),
           "HUB_ENGINE__PATIENT_KEY_SECRET": "a-test-secret"}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "run"], cwd=db.parent, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", mllp)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the hub did not start listening")


async def _stream(port: int, acked: list[str], stop_after: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(100_000):
            control = f"K{i:06d}"
            writer.write(frame(adt(control=control, visit=f"V{i % 50}").encode()))
            await writer.drain()
            data = await asyncio.wait_for(reader.readuntil(END + b"\r"), 10)
            if "|AA|" in data.decode():
                acked.append(control)
            if len(acked) >= stop_after:
                return
    except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def test_every_acknowledged_message_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    db, mllp = tmp_path / "hub.db", _port()
    hub = _start(db, mllp)
    acked: list[str] = []
    client = threading.Thread(target=lambda: asyncio.run(_stream(mllp, acked, 10**9)), daemon=True)
    client.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(hub.pid, signal.SIGKILL)  # while the client is still streaming
        hub.wait(10)
    client.join(15)
    assert not client.is_alive()
    assert len(acked) >= 300
    # restart, and the client re-sends what might have been in flight: processed at most once
    hub = _start(db, mllp)
    try:
        async def resend() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", mllp)
            for control in acked[-5:]:
                writer.write(frame(adt(control=control, visit="V0").encode()))
                await writer.drain()
                assert "|AA|" in (await asyncio.wait_for(reader.readuntil(END + b"\r"), 10)).decode()
            writer.close()
            await writer.wait_closed()

        asyncio.run(resend())
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(20)
    with SqliteLog(db) as log:
        ids = [orjson.loads(r.value)["sourcemessageid"].split("|")[2]
               for p in range(log.partitions(topics.EVENTS)) for r in log.read(topics.EVENTS, p, 0, 1_000_000)]
    assert len(ids) == len(set(ids)), "a message was processed twice"
    assert set(acked) <= set(ids), "an acknowledged message was lost"
