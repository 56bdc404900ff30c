"""Topic names and what travels on them (architecture.md; the AsyncAPI document is generated
from this table)."""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENTS = "svu.events"
ALERTS = "svu.alerts"
STATS = "svu.stats"
AUDIT = "svu.audit"
PATIENTS = "svu.internal.patients"
FIGURES = "svu.internal.figures"
OPS = "svu.ops"

_NAME_PART = re.compile(r"[^a-z0-9_-]+")


def _part(value: str) -> str:
    return _NAME_PART.sub("-", value.lower()).strip("-") or "unknown"


def raw(source: str) -> str:
    """Bytes exactly as received from one source, keyed by source message id."""
    return f"svu.raw.{_part(source)}"


def dlq(source: str) -> str:
    """What could not be parsed, routed or delivered for one source, with the reason."""
    return f"svu.dlq.{_part(source)}"


def deliveries(system: str, receiver: str) -> str:
    """What must be delivered to one receiver on one system, keyed by episode."""
    return f"svu.deliveries.{_part(system)}.{_part(receiver)}"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic (or topic family) of the AsyncAPI document."""

    address: str
    key: str
    description: str
    payloads: str
    compacted: bool = False


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("svu.raw.{source}", "source message id",
              "The bytes exactly as received, with receive time and connection.", "raw"),
    TopicSpec(EVENTS, "episode id", "Canonical events, CloudEvents envelope.", "process"),
    TopicSpec("svu.deliveries.{system}.{receiver}", "episode id",
              "What must be delivered where, rendered by the target adapter.", "delivery"),
    TopicSpec(ALERTS, "episode id", "Raised, escalated and resolved alerts.", "alert"),
    TopicSpec(STATS, "kommunkod + month", "Follow-up figures per kommun and month.", "stats",
              compacted=True),
    TopicSpec("svu.dlq.{source}", "source message id",
              "What could not be parsed or delivered, with the reason.", "dead_letter"),
    TopicSpec(AUDIT, "principal", "Every read of patient data through the API (append-only).",
              "audit"),
    TopicSpec(PATIENTS, "keyed patient hash",
              "Internal: each episode's admission and discharge by patient, to find readmissions. "
              "No personnummer: the key is a keyed hash.", "patient_index", compacted=True),
    TopicSpec(FIGURES, "kommunkod + month", "Internal: each closed episode's follow-up figures.",
              "episode_figures", compacted=True),
    TopicSpec(OPS, "subject", "Operators' actions on dead letters (replayed, discarded).", "ops"),
)
