"""The unit directory is reloaded while running; a bad file leaves the current one in force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.errors import ConfigurationError
from hub.streams.directory import DirectoryHolder
from tests.unit.test_unit_directory import TEXT


def test_reload_on_change_and_keep_the_old_one_on_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.write_text(TEXT, encoding="utf-8")
    holder = DirectoryHolder(path)
    first = holder.current()
    assert first is not None
    assert len(first) == 2
    assert holder.reload_if_changed() is False

    one_unit = TEXT.split("  - hsa_id: SE2120")[0]
    path.write_text(one_unit, encoding="utf-8")
    os.utime(path, ns=(1, 1_000_000_000))
    assert holder.reload_if_changed() is True
    assert len(holder.current() or ()) == 1

    path.write_text(one_unit.replace("kind: slutenvard", "kind: bakery"), encoding="utf-8")
    os.utime(path, ns=(2, 2_000_000_000))
    with pytest.raises(ConfigurationError) as exc:
        holder.reload_if_changed()
    assert exc.value.line == 6
    assert len(holder.current() or ()) == 1  # still the last good one
