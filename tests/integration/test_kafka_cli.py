"""The Kafka side of the hub command: `hub topics` against the mock cluster, `hub helm schema`,
and --help of `hub worker`."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.streams.kafka.producer import KafkaAppender
from tests.support.kafka import MockCluster
from tests.support.stream import numbered_event

runner = CliRunner()
CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "svu-hub"


@pytest.mark.parametrize("command", [["worker"], ["topics"], ["helm", "schema"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_topics_reports_what_is_missing_or_differs(cluster: MockCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    async def write_one() -> None:
        async with KafkaAppender(cluster.settings()) as appender:
            await appender.append_events([numbered_event(0)])

    asyncio.run(write_one())
    monkeypatch.setenv("HUB_KAFKA__BOOTSTRAP_SERVERS", '["' + '","'.join(cluster.bootstrap) + '"]')
    result = runner.invoke(app, ["topics", "--source", "hl7"], terminal_width=200)
    assert result.exit_code == 1
    assert "svu.dlq.hl7" in result.output and "create" in result.output
    assert "partitions 4, want 12" in result.output  # svu.events exists with the mock's 4


def test_helm_schema_check_and_write(tmp_path: Path) -> None:
    assert runner.invoke(app, ["helm", "schema", "--check", "--chart", str(CHART)]).exit_code == 0
    copy = tmp_path / "chart"
    shutil.copytree(CHART, copy)
    (copy / "values.schema.json").write_text("{}")
    assert runner.invoke(app, ["helm", "schema", "--check", "--chart", str(copy)]).exit_code == 1
    assert runner.invoke(app, ["helm", "schema", "--chart", str(copy)]).exit_code == 0
    assert (copy / "values.schema.json").read_text() == (CHART / "values.schema.json").read_text()
