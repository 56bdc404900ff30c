"""The hub command fails in one clear line with a non-zero exit, never a traceback: a refused
connection, a missing file, a missing broker or CA file, a mistyped --data, an unreadable reply.
And its help prints settings sections such as [kafka] as written, with named value types."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app

ROOT = Path(__file__).resolve().parents[2]
HL7 = b"MSH|^~\\&|EHR|SUS|HUB|SVU|20260302083000||ADT^A01^ADT_A01|MSG0001|P|2.5\rPID|1||X\r"


def _hub(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120, check=False)


def _one_line_failure(done: subprocess.CompletedProcess[str], expected: str) -> None:
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr + done.stdout
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hl7_file(tmp_path: Path) -> Path:
    path = tmp_path / "adt.hl7"
    path.write_bytes(HL7)
    return path


@pytest.fixture
def replying_server(request: pytest.FixtureRequest) -> Iterator[int]:
    """A loopback server that answers every connection with ``request.param`` and closes."""
    reply: bytes = request.param
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    server.close()
    thread.join(timeout=5)


def test_hl7_send_to_a_refused_port(hl7_file: Path, tmp_path: Path) -> None:
    done = _hub("hl7", "send", str(hl7_file), "--port", str(_closed_port()), cwd=tmp_path)
    _one_line_failure(done, "connection refused")


def test_hl7_send_of_a_missing_file(tmp_path: Path) -> None:
    done = _hub("hl7", "send", str(tmp_path / "nope.hl7"), cwd=tmp_path)
    _one_line_failure(done, "nope.hl7")
    assert done.returncode == 2


@pytest.mark.parametrize("replying_server", [b"HTTP/1.1 400 Bad Request\r\n\r\n"], indirect=True)
def test_hl7_send_with_a_reply_that_is_not_mllp(hl7_file: Path, tmp_path: Path, replying_server: int) -> None:
    done = _hub("hl7", "send", str(hl7_file), "--port", str(replying_server), cwd=tmp_path)
    _one_line_failure(done, "not an MLLP-framed HL7 acknowledgement")


@pytest.mark.parametrize("replying_server", [b"\x0bHELLO WORLD\x1c\r"], indirect=True)
def test_hl7_send_with_a_framed_reply_that_is_not_hl7(hl7_file: Path, tmp_path: Path, replying_server: int) -> None:
    done = _hub("hl7", "send", str(hl7_file), "--port", str(replying_server), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout.strip() == "MSG0001: the reply is not an HL7 acknowledgement (no MSA segment)"


@pytest.mark.parametrize("command", [["worker"], ["api"], ["adapter", "mllp"], ["adapter", "delivery", "--system",
                                                                                 "prator"], ["topics"]])
def test_a_kafka_role_without_a_broker(tmp_path: Path, command: list[str]) -> None:
    done = _hub(*command, cwd=tmp_path, env={"HUB_KAFKA__BOOTSTRAP_SERVERS": f'["127.0.0.1:{_closed_port()}"]',
                                                   "HUB_ENGINE__PATIENT_KEY_SECRET": "a-test-secret"})
    _one_line_failure(done, "no Kafka broker answers at 127.0.0.1:")


def test_a_worker_with_a_missing_ca_file(tmp_path: Path) -> None:
    done = _hub("worker", cwd=tmp_path, env={"HUB_KAFKA__SECURITY_PROTOCOL": "SSL",
                                              "HUB_KAFKA__SSL_CAFILE": str(tmp_path / "ca.crt")})
    _one_line_failure(done, f"kafka.ssl_cafile: file not found: {tmp_path / 'ca.crt'}")


def test_replay_with_a_mistyped_data_path(tmp_path: Path) -> None:
    done = _hub("replay", "--data", str(tmp_path / "hbu.db"), cwd=tmp_path)
    _one_line_failure(done, "no log at")
    assert not (tmp_path / "hbu.db").exists()  # nothing created in its place


def test_a_missing_config_file_and_an_unknown_option(tmp_path: Path) -> None:
    _one_line_failure(_hub("status", "--config", str(tmp_path / "hub.toml"), cwd=tmp_path), "hub.toml")
    _one_line_failure(_hub("status", "--no-such-flag", cwd=tmp_path), "--no-such-flag")


@pytest.mark.parametrize(("command", "sections"), [
    (["worker"], ["[kafka]"]),
    (["adapter", "mllp"], ["[hl7]", "[kafka]", "[api]"]),
    (["adapter", "delivery"], ["[lifecare]", "[prator]", "[api]"]),
])
def test_help_keeps_settings_sections_and_names_types(command: list[str], sections: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for section in sections:
        assert section in result.output
    assert "<bool>" not in result.output and "<file>" not in result.output
    assert "--config FILE" in result.output
    assert "--verbose  " in result.output or "--verbose\n" in result.output  # a flag: no type


def test_help_names_each_kind_of_value() -> None:
    text = CliRunner().invoke(app, ["cutover-report", "--help"], env={"COLUMNS": "200"}).output
    assert "--unit TEXT" in text and "--date DATE" in text and "--data PATH" in text
    send = CliRunner().invoke(app, ["hl7", "send", "--help"], env={"COLUMNS": "200"}).output
    assert "{FILE}..." in send and "--port INTEGER" in send and "<list" not in send
