"""Settings of the LifeCare delivery target."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class LifeCareSettings(BaseModel):
    """Where and how meddelanden are delivered to LifeCare."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=False, description="Deliver to LifeCare (off: deliveries stay pending).")
    base_url: str = Field(default="http://127.0.0.1:8090", description="LifeCare's message endpoint base URL.")
    token: SecretStr | None = Field(default=None, description="Bearer token for LifeCare.")
    timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout.")
    max_attempts: int = Field(default=6, ge=1, le=50, description="Attempts before a delivery fails for good.")
    backoff_initial_s: float = Field(default=0.5, gt=0, description="First retry delay (doubles, with jitter).")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Longest retry delay.")
    breaker_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open the circuit.")
    breaker_cooldown_s: float = Field(default=30.0, gt=0, description="How long an open circuit waits.")
