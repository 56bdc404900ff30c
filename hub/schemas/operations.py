"""Payloads the hub itself produces: alerts (``svu.alerts``), deliveries
(``svu.deliveries.<system>.<receiver>``) and the dead-letter record (``svu.dlq.<source>``)."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, field_serializer, field_validator

from hub.schemas.base import CanonicalModel, Instant, TargetSystem
from hub.schemas.identifiers import HsaId, Kommunkod
from hub.schemas.payloads import Payload


class AlertRaised(Payload):
    """A deadline passed without its meddelande, or the data broke the process's order.

    Carries no patient data: the episode id (the envelope key) and units only.
    """

    EVENT_NAME: ClassVar[str] = "alert_raised"
    alert_id: str = Field(min_length=1, max_length=200)
    rule: str = Field(min_length=1, max_length=100, description="Rule id, e.g. 'admission_notice'.")
    rule_source: str = Field(max_length=300, description="Where the rule comes from: pack and key.")
    responsible_unit: HsaId | None = None
    municipality: Kommunkod | None = None
    deadline: Instant | None = None
    level: int = Field(default=1, ge=1, le=9)
    raised_at: Instant
    detail: str | None = Field(default=None, max_length=500)


class AlertEscalated(Payload):
    """An open alert moved up one escalation level after the pack's delay."""

    EVENT_NAME: ClassVar[str] = "alert_escalated"
    alert_id: str = Field(min_length=1, max_length=200)
    level: int = Field(ge=2, le=9)
    escalated_at: Instant


class AlertResolved(Payload):
    """The missing meddelande arrived (``lateness_seconds`` says how late) or the rule no longer applies."""

    EVENT_NAME: ClassVar[str] = "alert_resolved"
    alert_id: str = Field(min_length=1, max_length=200)
    resolved_at: Instant
    resolution: str = Field(pattern=r"^(message_arrived|no_longer_required|closed_by_operator)$")
    lateness_seconds: int | None = Field(default=None, ge=0)


class AlertAcknowledged(Payload):
    """An operator acknowledged an alert: seen, being handled. The alert stays open."""

    EVENT_NAME: ClassVar[str] = "alert_acknowledged"
    alert_id: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=100)
    at: Instant
    note: str | None = Field(default=None, max_length=500)


class AlertAssigned(Payload):
    """An operator assigned an alert to a person or team."""

    EVENT_NAME: ClassVar[str] = "alert_assigned"
    alert_id: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=100)
    assignee: str = Field(min_length=1, max_length=100)
    at: Instant


class DeliveryStatus(StrEnum):
    """Where one delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"


class DeliveryRequested(Payload):
    """A meddelande to be delivered to one receiver on the system it uses on the message's date.

    ``idempotency_key`` derives from the source message id: a retry never makes a second message.
    """

    EVENT_NAME: ClassVar[str] = "delivery_requested"
    delivery_id: str = Field(min_length=1, max_length=200)
    idempotency_key: str = Field(min_length=1, max_length=200)
    receiver: HsaId
    system: TargetSystem
    message_type: str = Field(min_length=1, max_length=100)
    source_event_id: str = Field(min_length=1, max_length=200)
    handover: bool = Field(default=False, description="Open history re-sent after a cutover.")
    content: dict[str, Any] = Field(
        default_factory=dict,
        description="The meddelande to render: the source event's CloudEvents type and data.",
    )


class DeliveryStatusChanged(Payload):
    """A delivery moved to a new state."""

    EVENT_NAME: ClassVar[str] = "delivery_status_changed"
    delivery_id: str = Field(min_length=1, max_length=200)
    status: DeliveryStatus
    at: Instant
    detail: str | None = Field(default=None, max_length=500)


OPERATION_PAYLOADS: tuple[type[Payload], ...] = (
    AlertRaised,
    AlertEscalated,
    AlertResolved,
    AlertAcknowledged,
    AlertAssigned,
    DeliveryRequested,
    DeliveryStatusChanged,
)


class DeadLetter(CanonicalModel):
    """What could not be parsed, validated, routed or delivered, with the reason.

    ``raw`` is kept byte for byte (base64 in JSON); ``errors`` is masked and safe to show.
    """

    VERSION: ClassVar[int] = 1
    source: str = Field(min_length=1, max_length=100)
    source_message_id: str | None = Field(default=None, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    errors: tuple[tuple[str, str], ...] = ()
    raw: bytes
    received_at: Instant
    connection: str | None = Field(default=None, max_length=200)
    replay_of: str | None = Field(default=None, description="Dead letter this one re-tries.")

    @field_serializer("raw")
    def _raw_b64(self, raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    @field_validator("raw", mode="before")
    @classmethod
    def _raw_from_b64(cls, value: object) -> object:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value


class AuditRecord(CanonicalModel):
    """One access to patient data, or one refusal at the door (patientdatalagen 4 kap.): who,
    for which huvudman, what, when, and the outcome. ``patient_keys`` are keyed patient hashes
    (the same as the readmission link), so a patient's log extract needs no personnummer in clear."""

    at: Instant
    principal: str = Field(min_length=1, max_length=100)
    role: str = Field(max_length=32)
    municipality: Kommunkod | None = None
    huvudman: str | None = Field(default=None, max_length=40,
                                 description="region:<länskod> or kommun:<kommunkod> the principal acts for.")
    endpoint: str = Field(max_length=200)
    episode_id: str | None = Field(default=None, max_length=128)
    episode_ids: tuple[str, ...] = Field(default=(), description="Every episode a list response carried.")
    patient_keys: tuple[str, ...] = Field(default=(), description="Keyed patient hashes of the data shown.")
    outcome: str = Field(pattern=r"^(read|not_found|denied|refused|failed_login|throttled|raw_read|"
                                 r"replayed|discarded|reloaded|acted)$")
    client: str | None = Field(default=None, max_length=100, description="The caller's address.")
    detail: str | None = Field(default=None, max_length=300, description="The rule, never the input.")


class PatientIndexEntry(CanonicalModel):
    """One episode of a patient, on ``svu.internal.patients`` (keyed by a keyed patient hash)."""

    episode_id: str = Field(min_length=1, max_length=128)
    admitted_at: Instant | None = None
    discharged_at: Instant | None = None
    cancelled: bool = False
    readmission_days: int = Field(default=30, ge=1, le=365)


class OpsAction(CanonicalModel):
    """An operator's action on a dead letter, on ``svu.ops`` (replayed or discarded)."""

    action: str = Field(pattern=r"^(dead_letter_replayed|dead_letter_discarded)$")
    subject: str = Field(min_length=1, max_length=300, description="The dead letter's id.")
    by: str = Field(min_length=1, max_length=100)
    at: Instant
    reason: str | None = Field(default=None, max_length=500)
    outcome: str | None = Field(default=None, max_length=500, description="What the replay gave.")
    new_reference: str | None = Field(default=None, max_length=300,
                                      description="Where the replayed message landed.")
