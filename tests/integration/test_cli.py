"""The hub command: ingest with bad lines, status, replay, contracts check, --help everywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.demo.simulator import Simulator
from hub.domain.timeline import TimelineProcessor
from hub.streams.sqlite_log import SqliteLog

runner = CliRunner()


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
