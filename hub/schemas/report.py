"""The per-episode report of the process engine (``hub replay --input … --report …``): one JSON
object per line. Times are UTC; ``outcome`` is one of ``met``, ``met_late``, ``missed``,
``pending``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


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
    daily_rate_source: str | None = Field(
        default=None, description="Where the amount per day comes from: the pack's amount of the "
        "year, the latest earlier one, or the setting engine.liability_daily_rate_sek.")


class EpisodeReport(BaseModel):
    """The engine's verdict on one vårdtillfälle."""

    model_config = ConfigDict(frozen=True)

    episode_id: str
    rule_pack: str = Field(description="The agreement used: a county pack (with its kommun "
                           "override, e.g. norrbotten/2582), a bilateral one, or lag-2017-612.")
    hospital_region: str | None = Field(default=None, description="Länskod of the ward's region.")
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
    readmission_days: int | None = Field(
        default=None, description="Calendar days from the earlier episode's discharge to this admission.")
    days_ready: int | None = Field(
        default=None, description="Calendar days as utskrivningsklar: from the first utskrivningsklar "
        "date to the discharge date (or to the report's time while admitted); 0 the same day.")
    data_quality: list[str]

    def to_line(self) -> str:
        """One line of the report: every field of the schema, empty ones as ``null``."""
        return self.model_dump_json()


