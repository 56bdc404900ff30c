"""Under `hub run` the processors run in a process of their own, supervised: killed, it is
started again, /ready goes false and back, and what MLLP acknowledged meanwhile is processed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.adapters.hl7.transport import send
from tests.support.fake_lifecare import free_port
from tests.support.hl7 import WARDS, adt

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]


def _processors_pid(hub: int) -> int | None:
    for child in _children(hub):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            continue
    return None


def _wait(check, what: str, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


async def test_a_killed_processors_process_is_restarted_and_catches_up(tmp_path: Path) -> None:
    mllp, api = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_ENGINE__PATIENT_KEY_SECRET": "a-test-secret", "HUB_LOG__PATH": str(tmp_path / "hub.db"),
           "HUB_HL7__PORT": str(mllp), "HUB_API__PORT": str(api), "HUB_HL7__WARDS": json.dumps(WARDS)}
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "run"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{api}"

    def ready() -> dict | None:
        try:
            r = httpx.get(f"{url}/ready", timeout=5)
        except httpx.HTTPError:
            return None
        return {"ok": r.status_code == 200, **r.json()}

    try:
        _wait(lambda: (ready() or {}).get("ok"), "ready at start")
        first = _processors_pid(hub.pid)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        acks = await send("127.0.0.1", mllp, [adt(control=f"R{i}", visit=f"V{i}").encode() for i in range(20)])
        assert all(b"|AA|" in a for a in acks)  # MLLP does not depend on the processors
        _wait(lambda: (r := ready()) is not None and r["checks"]["tasks"]["tasks"]["processors"]["restarts"] >= 1,
              "the restart counted")
        _wait(lambda: (r := ready()) is not None and r["ok"] and sum(r["checks"]["processors"]["lag"].values()) == 0,
              "ready again with no lag")
        second = _processors_pid(hub.pid)
        assert second is not None and second != first
    finally:
        hub.send_signal(signal.SIGTERM)
        _, err = hub.communicate(timeout=60)
    assert hub.returncode == 0, err.decode()[-2000:]
    assert b"task processors failed (ProcessorsExited)" in err
