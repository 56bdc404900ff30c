"""The metric helpers: route templates as labels, circuit states, and the scrape checker that
the role scrape tests rely on (it must catch patient data in a label)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from hub.adapters.lifecare.transport import Breaker
from hub.streams.metrics import circuit_state, route_of
from tests.support.metrics import DELIVERY, SOURCES, assert_no_patient_data

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "svu-hub" / "templates" / "policies.yaml"


class _Route:
    path = "/episodes/{episode_id}/timeline"


def test_the_route_label_is_the_template_never_the_path() -> None:
    assert route_of({"route": _Route(), "path": "/episodes/VLL-2026-000001/timeline"}) == _Route.path
    assert route_of({"path": "/episodes/VLL-2026-000001/nope"}) == "unmatched"


def test_circuit_states() -> None:
    breaker = Breaker(threshold=2, cooldown=3600)
    assert circuit_state(breaker) == "closed"
    breaker.failure()
    breaker.failure()
    assert circuit_state(breaker) == "open"
    breaker.opened_at = time.monotonic() - 7200
    assert circuit_state(breaker) == "half_open"


@pytest.mark.parametrize("label", ['patient="191212121212"', 'episode="VLL-2026-000001"', 'who="Tolvan Tolvansson"'])
def test_the_checker_finds_patient_data_in_a_label(label: str) -> None:
    text = f"# TYPE x gauge\nx{{{label}}} 1.0\n"
    with pytest.raises(AssertionError):
        assert_no_patient_data(text, names=["Tolvansson"], episodes=[])


def test_the_alerting_rules_use_metrics_the_roles_export() -> None:
    text = CHART.read_text(encoding="utf-8")
    used = {re.sub(r"_total$", "", m) for m in re.findall(r"\b(svu_hub_[a-z_]+)\b", text)}
    exported = DELIVERY | SOURCES | {"svu_hub_processor_lag_records", "svu_hub_mllp_rejected", "svu_hub_mllp_unstored"}
    assert used and used <= exported, used - exported
