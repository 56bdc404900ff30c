"""Follow-up figures (domain.md §3): one closed vårdtillfälle's figures, and the monthly figures
per kommun, somatik and psykiatri apart, published on ``svu.stats`` (key kommunkod + month)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from hub.schemas.base import CanonicalModel, CareType
from hub.schemas.payloads import Payload


class EpisodeFigures(CanonicalModel):
    """What one closed vårdtillfälle adds to its kommun's month (the month of discharge).

    ``retract`` withdraws an earlier contribution under another kommun or month."""

    episode_id: str
    municipality: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    care_type: CareType
    retract: bool = False
    ready: bool = False
    days_ready: int = 0
    new_or_changed_needs: bool = False
    liability_days: int = 0
    liability_amount_sek: int = 0
    readmission: bool = False
    sip_required: bool = False
    sip_on_time: bool = False
    postponements: int = 0
    kvitteringar: int = 0
    kvitteringar_on_time: int = 0


class MonthlyFigures(Payload):
    """Uppföljning per kommun and month, somatik and psykiatri apart (SKR, Västerbotten S3,
    Norrbotten S4). Days as utskrivningsklar = utskrivningsdatum − utskrivningsklardatum in
    calendar days (vårdtid 0 for the same day, W21)."""

    EVENT_NAME: ClassVar[str] = "monthly_figures"
    municipality: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    care_type: CareType
    episodes_closed: int = 0
    episodes_ready: int = Field(0, description="Closed episodes that were utskrivningsklar.")
    episodes_ready_1plus: int = Field(0, description="… at least one day (the SKR population).")
    mean_days_ready_skr: float | None = Field(None, description="SKR: mean over episodes_ready_1plus.")
    mean_days_ready_all: float | None = Field(None, description="Mean over all utskrivningsklara (S3).")
    mean_days_ready_new_needs: float | None = None
    mean_days_ready_unchanged_needs: float | None = None
    still_3plus_days: int = Field(0, description="Stayed ≥ 3 days after utskrivningsklar (S3).")
    same_day_share: float | None = Field(None, description="Discharged the day they were utskrivningsklar.")
    liability_episodes: int = 0
    liability_days: int = 0
    liability_amount_sek: int = 0
    readmissions_30d: int = 0
    sip_required: int = 0
    sip_on_time: int = 0
    postponed_dates: int = 0
    kvitteringar: int = 0
    kvitteringar_on_time: int = 0
