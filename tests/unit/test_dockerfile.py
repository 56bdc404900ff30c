"""The Dockerfile, checked without a Docker engine: parsed with dockerfile-parse (multi-stage,
pinned base, non-root final stage without build tools, sources that exist, ports of the
settings, a CMD the CLI accepts), and its build stage replayed: the same files copied, a wheel
built from them, and the hub run from that wheel outside the source tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from typer.testing import CliRunner

from hub.adapters.hl7.config import Hl7Settings
from hub.cli import app
from hub.settings import ApiSettings, KafkaSettings

ROOT = Path(__file__).resolve().parents[2]


def _parsed() -> DockerfileParser:
    return DockerfileParser(path=str(ROOT / "Dockerfile"))


def _stages(parser: DockerfileParser) -> list[list[dict[str, str]]]:
    stages: list[list[dict[str, str]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_multi_stage_with_a_pinned_base_and_a_non_root_final_stage() -> None:
    parser = _parsed()
    stages = _stages(parser)
    assert len(stages) >= 2
    args = dict(i["value"].split("=", 1) for i in parser.structure
                if i["instruction"] == "ARG" and "=" in i["value"])
    base = args.get("PYTHON_IMAGE", "")
    assert all(i["value"].startswith("${PYTHON_IMAGE}") for i in parser.structure if i["instruction"] == "FROM")
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+", base), base  # an exact patch version
    final = stages[-1]
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), users  # numeric, not root
    runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
    for tool in ("gcc", "build-essential", "pip install", "apt-get install"):
        assert tool not in runs, tool  # nothing to compile with in the image that runs


def test_copied_sources_exist_and_ports_are_the_settings_defaults() -> None:
    parser = _parsed()
    for instruction in parser.structure:
        if instruction["instruction"] == "COPY" and "--from=" not in instruction["value"]:
            *sources, _ = instruction["value"].split()
            for source in sources:
                assert (ROOT / source).exists(), source
    exposed = {int(p) for i in parser.structure if i["instruction"] == "EXPOSE" for p in i["value"].split()}
    assert exposed == {ApiSettings().port, Hl7Settings().port, KafkaSettings().web_port}


def test_entrypoint_and_command_are_a_real_hub_command() -> None:
    import json

    parser = _parsed()
    entry = next(json.loads(i["value"]) for i in parser.structure if i["instruction"] == "ENTRYPOINT")
    command = next(json.loads(i["value"]) for i in parser.structure if i["instruction"] == "CMD")
    assert entry == ["hub"]
    result = CliRunner().invoke(app, [command[0], "--help"])
    assert result.exit_code == 0, result.output
    assert all(option in result.output for option in command if option.startswith("--"))


@pytest.mark.slow
def test_the_build_stage_gives_a_wheel_that_runs_outside_the_source_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):  # exactly what the build stage copies
        shutil.copy(ROOT / name, src / name)
    tracked = subprocess.run(["git", "ls-files", "hub"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for name in tracked:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    str(src), "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("svu_hub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        inside = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    missing = [n for n in tracked if n not in inside]
    assert missing == [], f"files of hub/ the wheel leaves out (package-data?): {missing}"

    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    probe = ("import hub, hub.cli; from hub.domain.rules import BUILTIN_PACKS, builtin_pack; "
             "[builtin_pack(n) for n in BUILTIN_PACKS]; "
             "from importlib.resources import files; "
             "assert (files('hub.api') / 'static' / 'index.html').is_file(); print(hub.__file__)")
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(tmp_path / "site"))  # not the checkout
    cli = subprocess.run([sys.executable, "-m", "hub.cli", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert cli.returncode == 0 and "worker" in cli.stdout, cli.stderr
