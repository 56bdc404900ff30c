from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.kafka import MockCluster


@pytest.fixture
def cluster() -> Iterator[MockCluster]:
    c = MockCluster()
    yield c
    c.close()
