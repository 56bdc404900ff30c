"""The per-episode report of the process engine (``hub replay --input … --report …``): one JSON
object per line. Times are UTC; ``outcome`` is one of ``met``, ``met_late``, ``missed``,
``pending``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class DeadlineReport(BaseModel):
    """One deadline and how it went."""

    model_config = ConfigDict(frozen=True)

    rule: str
    target: str
    due: dt.datetime
    outcome: str
    met_at: dt.datetime | None = None
    lateness_seconds: int | None = None
    responsible_unit: str | None = None
    source: str


class AlertReport(BaseModel):
    """One alert's history."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    raised_at: dt.datetime | None
    level: int
    escalated_at: list[dt.datetime]
    resolved_at: dt.datetime | None


class LiabilityReport(BaseModel):
    """Betalningsansvar: whether it can apply, why not, days and amount (domain.md §2)."""

    model_config = ConfigDict(frozen=True)

    applies: bool
    not_applicable_because: list[str]
    days: int
    amount_sek: int
    daily_rate_sek: int | None


class EpisodeReport(BaseModel):
    """The engine's verdict on one vårdtillfälle."""

    model_config = ConfigDict(frozen=True)

    episode_id: str
    municipality: str | None
    care_type: str
    category: str | None
    receivers: list[str]
    admitted_at: dt.datetime | None
    ready_at: dt.datetime | None
    discharged_at: dt.datetime | None
    cancelled: bool
    deadlines: list[DeadlineReport]
    alerts: list[AlertReport]
    liability: LiabilityReport
    estimated_date_postponements: int
    postponed_after_preparation: int
    readmission_of: str | None
    data_quality: list[str]

    def to_line(self) -> str:
        """One line of the report: every field of the schema, empty ones as ``null``."""
        return self.model_dump_json()


