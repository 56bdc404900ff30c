"""`hub demo` end to end: a real process on a free loopback port, three months of history replayed
and the simulated feed flowing in, a timeline readable through the API with the demo key, bad input
in the dead-letter topic."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.streams.sqlite_log import SqliteLog

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_timelines_and_keeps_bad_input(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "demo.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--port", str(port), "--data", str(db),
         "--episodes", "30", "--speed", "200000"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "HUB_HL7__PORT": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer demo-ops-admin"}
    try:
        deadline = time.monotonic() + 60
        timeline = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"{base}/console/episodes?status=utskriven&page_size=1", headers=headers, timeout=5)
                items = page.json()["items"] if page.status_code == 200 else []
                if items:
                    r = httpx.get(f"{base}/episodes/{items[0]['episode_id']}/timeline", headers=headers, timeout=5)
                    if r.status_code == 200 and any(
                            e["type"] == "se.svu.patient_discharged.v1" for e in r.json()["entries"]):
                        timeline = r.json()
                        break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert timeline is not None, "the demo never served a full timeline"
        types = [e["type"] for e in timeline["entries"]]
        assert types[0] == "se.svu.patient_admitted.v1"
        assert "se.svu.patient_discharged.v1" in types
        assert httpx.get(f"{base}/ready", timeout=2).status_code in (200, 503)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "API key:" in output and "demo stopped" in output
    with SqliteLog(db) as log:
        assert log.count("svu.events") > 300
        assert log.count("svu.dlq.demo") >= 1
