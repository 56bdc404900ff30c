from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.domain.clock import FakeClock
from hub.streams.sqlite_log import SqliteLog

T0 = dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
def sqlite_log(log_path: Path, clock: FakeClock) -> Iterator[SqliteLog]:
    log = SqliteLog(log_path, default_partitions=4,
                    clock_ms=lambda: int(clock.now().timestamp() * 1000))
    yield log
    log.close()
