"""Settings of the Prator adapter."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub.adapters.lifecare.config import LifeCareSettings


class PratorSettings(BaseModel):
    """Where Prator XML comes in and goes out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inbox: Path | None = Field(default=None, description="Prator XML files dropped here are ingested "
                               "(then moved to processed/ or rejected/ with the reason).")
    http: LifeCareSettings | None = Field(
        default=None, description="Deliver to Prator over HTTP instead of the outbox (same retry, back-off, "
        "circuit-breaker and idempotency settings as LifeCare).")
    outbox: Path | None = Field(default=None, description="Deliveries to units on Prator are written here "
                                "(one folder per receiver); None leaves them pending.")
