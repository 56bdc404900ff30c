"""Reading a /metrics scrape: its families, and proof that no label carries patient data."""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

from hub.schemas.identifiers import contains_personal_id

PROCESS = {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"}
HTTP = {"svu_hub_http_requests", "svu_hub_http_request_duration_seconds"}
DELIVERY = {"svu_hub_delivery_pending", "svu_hub_delivery_delivered", "svu_hub_delivery_failed",
            "svu_hub_delivery_circuit_state", "svu_hub_delivery_oldest_pending_age_seconds"}
SOURCES = {"svu_hub_dead_letters_received", "svu_hub_held_messages"}
EPISODE_ID = re.compile(r"^[A-Z]{2,4}-\d{4}-\d{4,}")


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Family name → its samples (name, labels, value); the parser rejects a malformed scrape."""
    return {f.name: [(s.name, dict(s.labels), s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def assert_no_patient_data(text: str, names: Iterable[str] = (), episodes: Iterable[str] = ()) -> None:
    """No label value holds a personnummer, one of ``names`` or an episode id."""
    banned = {n.lower() for n in names if n} | set(episodes)
    for family, samples in families(text).items():
        for _, labels, _ in samples:
            for key, value in labels.items():
                assert not contains_personal_id(value), (family, key)
                assert not EPISODE_ID.match(value) and value not in banned, (family, key, value)
                assert not any(b in value.lower() for b in banned if len(b) > 3), (family, key)


def assert_families(text: str, wanted: set[str], with_samples: set[str] | None = None) -> None:
    found = families(text)
    missing = wanted - set(found)
    assert not missing, missing
    for name in with_samples if with_samples is not None else wanted:
        assert found[name], f"{name} has no samples"
