"""The hub command: ingest with bad lines, status, replay, contracts check, --help everywhere."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.demo.simulator import Simulator
from hub.domain.timeline import TimelineProcessor
from hub.streams.sqlite_log import SqliteLog

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    sim = Simulator(start=dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC), episodes=12, seed=3, bad_share=0)
    lines = [s.raw for s in sim.traffic()]
    obj = orjson.loads(lines[0])
    obj["data"]["ward"] = "not-an-hsa-id"
    lines.insert(5, orjson.dumps(obj))
    lines.insert(9, b"{garbage")
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("command", [[], ["run"], ["demo"], ["ingest"], ["replay"], ["status"],
                                     ["contracts", "export"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_ingest_reports_bad_lines_by_number_and_processes_the_rest(events_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    result = runner.invoke(app, ["ingest", str(events_file), "--data", str(db)])
    assert result.exit_code == 1
    total = len(events_file.read_bytes().splitlines())
    assert f"{total - 2} accepted, 2 rejected" in result.output
    assert "line 6" in result.output and "data.ward" in result.output
    assert "line 10" in result.output and "not valid JSON" in result.output
    with SqliteLog(db) as log:
        assert len(dict(log.scan_states(TimelineProcessor.NAME))) == 12
        assert log.count("svu.dlq.file") == 2


def test_replay_rebuilds_the_same_read_models(events_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    runner.invoke(app, ["ingest", str(events_file), "--data", str(db)])
    with SqliteLog(db) as log:
        before = dict(log.scan_states(TimelineProcessor.NAME))
    result = runner.invoke(app, ["replay", "--data", str(db)])
    assert result.exit_code == 0, result.output
    assert f"replayed {len(events_file.read_bytes().splitlines()) - 2} events" in result.output
    with SqliteLog(db) as log:
        assert dict(log.scan_states(TimelineProcessor.NAME)) == before
    assert runner.invoke(app, ["replay", "--data", str(db), "--processor", "nope"]).exit_code == 2


def test_status_lists_topics_and_lag(events_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    runner.invoke(app, ["ingest", str(events_file), "--data", str(db), "--no-process"])
    result = runner.invoke(app, ["status", "--data", str(db)])
    assert result.exit_code == 0
    assert "svu.events" in result.output and "svu.dlq.file" in result.output
    assert "timeline" in result.output


def test_contracts_check_passes_on_the_repository_and_fails_on_drift(tmp_path: Path) -> None:
    assert runner.invoke(app, ["contracts", "export", "--check"]).exit_code == 0
    result = runner.invoke(app, ["contracts", "export", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    (tmp_path / "events" / "stray.schema.json").write_text("{}")
    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 2.6.0\n")
    check = runner.invoke(app, ["contracts", "export", "--dir", str(tmp_path), "--check"])
    assert check.exit_code == 1
    assert "asyncapi.yaml" in check.output and "stray.schema.json" in check.output


def test_bad_settings_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_LOG__PARTITIONS", "0")
    result = runner.invoke(app, ["status", "--data", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "log.partitions" in result.output


@pytest.mark.parametrize(("variable", "content", "where"), [
    ("HUB_ENGINE__RULE_PACK", 'id: x\nname: X\nlanskod: "24"\nkvittering:\n  times: [nine]\n',
     ":5 kvittering.times.0: "),
    ("HUB_ENGINE__DIRECTORY", "units:\n  - hsa_id: SE123\n", ":2 units.0.hsa_id: "),
])
def test_a_malformed_rule_pack_or_directory_refuses_to_start(
        tmp_path: Path, variable: str, content: str, where: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "replay", "--data", str(tmp_path / "x.db")],
        env={**os.environ, variable: str(bad), "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
        capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert f"{bad}{where}" in result.stderr


def test_replay_report_from_a_file_is_written_and_deterministic(tmp_path: Path) -> None:
    sim = Simulator(start=dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC), episodes=8, seed=5, bad_share=0)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(s.raw for s in sim.traffic()) + b"\n")
    reports = []
    for name in ("a.jsonl", "b.jsonl"):
        result = runner.invoke(app, ["replay", "--input", str(events), "--report", str(tmp_path / name),
                                     "--until", "2026-03-20T00:00:00+01:00"])
        assert result.exit_code == 0, result.output
        reports.append((tmp_path / name).read_text(encoding="utf-8"))
    assert reports[0] == reports[1]
    lines = [orjson.loads(line) for line in reports[0].splitlines()]
    assert len(lines) == 8
    assert {"episode_id", "category", "deadlines", "alerts", "liability"} <= set(lines[0])
    assert any(d["outcome"] in ("missed", "met_late") for r in lines for d in r["deadlines"])
