"""The README's configuration example is valid settings: it cannot drift from the model."""

from __future__ import annotations

import re
from pathlib import Path

from hub.settings import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_example_loads(tmp_path: Path) -> None:
    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match is not None
    example = match.group(1).replace("…", "x")
    (tmp_path / "hub.toml").write_text(example, encoding="utf-8")
    settings = load_settings(tmp_path / "hub.toml")
    assert settings.engine.rule_pack == "norrbotten"
    assert settings.kommun_mappings["2480"].types["KV"] == "kvittering"
    assert settings.lifecare.enabled is True
    assert {k.role.value for k in settings.api.keys} == {"ops_admin", "kommun"}
