"""SIGKILL in the middle of writing: every confirmed append survives, and after a restart the
processors' outputs hold every input exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from hub.domain.timeline import TimelineProcessor
from hub.schemas import topics
from hub.streams.clock import SystemClock
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog
from tests.support.processors import CountingProcessor
from tests.support.stream import numbered_event

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.support.writer", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, text=True)


def _all_values(log: SqliteLog, topic: str) -> list[bytes]:
    return [r.value for p in range(log.partitions(topic)) for r in log.read(topic, p, 0, 1_000_000)]


def test_every_confirmed_append_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    child = _child("append", str(path), "100000")
    confirmed = []
    assert child.stdout is not None
    for line in child.stdout:
        confirmed.append(int(line))
        if len(confirmed) == 300:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(10)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with SqliteLog(path) as log:
        stored = [orjson.loads(v)["sourcemessageid"] for v in _all_values(log, topics.EVENTS)]
    assert len(stored) == len(set(stored)), "an append was stored twice"
    missing = {numbered_event(i).source_message_id for i in confirmed} - set(stored)
    assert not missing
    assert len(stored) >= 300  # confirmed ones, perhaps plus the one in flight


def test_processing_killed_mid_stream_neither_loses_nor_duplicates_outputs(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    n = 3000
    with SqliteLog(path) as log:
        Ingestor(log, SystemClock()).submit_events([numbered_event(i) for i in range(n)])
    child = _child("process", str(path))
    assert child.stdout is not None
    batches = 0
    for line in child.stdout:
        if line.startswith("batch"):
            batches += 1
            if batches == 25:
                os.kill(child.pid, signal.SIGKILL)
                break
    child.wait(10)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"
    with SqliteLog(path) as log:
        done_before = log.count(CountingProcessor.OUTPUT)
        assert 0 < done_before < n
        EmbeddedRuntime(log, [CountingProcessor(), TimelineProcessor()], SystemClock(),
                        batch_size=7).run_until_idle()
        outputs = [orjson.loads(v)["sourcemessageid"] for v in _all_values(log, CountingProcessor.OUTPUT)]
        assert sorted(outputs) == sorted(numbered_event(i).source_message_id for i in range(n))
        counts = {k: CountingProcessor().decode_state(v).seen for k, v in log.scan_states("counting")}
        assert sum(counts.values()) == n
        entries = sum(len(TimelineProcessor().decode_state(v)["entries"])
                      for _, v in log.scan_states("timeline"))
        assert entries == n
