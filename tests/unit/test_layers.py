"""Layers: hub/schemas and hub/domain import no infrastructure; the import-linter contracts in
pyproject.toml hold for the whole package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"sqlite3", "socket", "asyncio", "faust", "aiokafka", "confluent_kafka", "fastapi",
             "starlette", "uvicorn", "httpx", "lxml", "hl7apy", "hl7", "threading", "subprocess",
             "hub.streams", "hub.adapters", "hub.api", "hub.bootstrap", "hub.cli", "hub.demo"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(package: Path) -> list[str]:
    found = []
    for path in package.rglob("*.py"):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", ["schemas", "domain"])
def test_pure_layers_import_no_infrastructure(package: str) -> None:
    assert _violations(ROOT / "hub" / package) == []


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import sqlite3\nfrom hub.streams.log import Append\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_violations(tmp_path)) == 2
    finally:
        ROOT = saved


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
