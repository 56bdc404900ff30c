"""Settings: one frozen model per component, composed into ``HubSettings``.

Read from ``HUB_`` environment variables (nested with ``__``, e.g. ``HUB_LOG__PATH``) and from
an optional TOML file (``hub --config hub.toml``; environment wins). Every field has a
description: the configuration reference and the Helm values schema are generated from them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.kommun.mapping import KommunMapping
from hub.adapters.lifecare.config import LifeCareSettings
from hub.adapters.prator.config import PratorSettings
from hub.schemas.identifiers import Kommunkod


class _Component(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LogSettings(_Component):
    """The embedded log (SQLite, WAL)."""

    path: Path = Field(default=Path("var/hub.db"), description="SQLite file of the embedded log.")
    partitions: int = Field(default=4, ge=1, le=256, description="Partitions of a new topic.")
    durability: Literal["full", "normal", "off"] = Field(
        default="full",
        description="full: a confirmed append survives a kill and a power cut; normal: survives "
        "a kill; off: benchmarks only.",
    )


class RuntimeSettings(_Component):
    """The embedded processor runtime."""

    batch_size: int = Field(default=500, ge=1, le=100_000, description="Records per transaction.")
    idle_sleep_s: float = Field(default=0.05, gt=0, le=5, description="Poll interval when idle.")
    max_lag: int = Field(default=10_000, ge=0, description="/ready fails above this many unread records.")


class EngineSettings(_Component):
    """The process engine: which rule pack, which unit directory."""

    rule_pack: str = Field(
        default="vasterbotten",
        description="A shipped rule pack (vasterbotten, norrbotten, gavleborg, stockholm) or the "
        "path of a pack file (YAML).")
    directory: Path | None = Field(
        default=None, description="Unit directory file (YAML); reloadable while running. Without "
        "it meddelanden are not routed.")
    patient_key_secret: SecretStr = Field(
        default=SecretStr("change-me-in-production"),
        description="Key of the patient hash that links a patient's episodes (readmissions) "
        "without storing the personnummer. Keep it stable: changing it breaks the links.")


class Role(StrEnum):
    """What an API caller may see."""

    OPS_ADMIN = "ops_admin"
    REGION = "region"
    MUNICIPALITY = "kommun"
    DASHBOARD = "dashboard"


class ApiKey(_Component):
    """One API key and the principal it stands for."""

    key: SecretStr = Field(description="The secret sent as 'Authorization: Bearer <key>' or X-API-Key.")
    principal: str = Field(min_length=1, max_length=100, description="Who, as written to the audit log.")
    role: Role = Field(description="ops_admin, region, kommun or dashboard.")
    municipality: Kommunkod | None = Field(default=None, description="Kommunkod a kommun key is bound to.")


class JwtSettings(_Component):
    """Bearer tokens (JWT) from the organisation's identity provider."""

    issuer: str | None = Field(default=None, description="Required 'iss'; None disables JWT.")
    audience: str = Field(default="svu-hub", description="Required 'aud'.")
    algorithms: tuple[str, ...] = Field(default=("RS256",), description="Accepted algorithms.")
    key: SecretStr | None = Field(default=None, description="PEM public key (RS/ES) or shared secret (HS).")
    role_claim: str = Field(default="svu_role", description="Claim holding the role.")
    municipality_claim: str = Field(default="svu_kommun", description="Claim holding a kommun's kommunkod.")


class ApiSettings(_Component):
    """The ops API."""

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port of the API (0: any free).")
    keys: tuple[ApiKey, ...] = Field(default=(), description="API keys (embedded default).")
    jwt: JwtSettings = Field(default_factory=JwtSettings, description="Bearer tokens (JWT).")


class DemoSettings(_Component):
    """The demo feed that plays a county's traffic."""

    county: Literal["vasterbotten", "norrbotten", "gavleborg"] = Field(
        default="vasterbotten", description="County whose kommuner the demo plays.")
    episodes: int = Field(default=60, ge=1, le=100_000, description="Vårdtillfällen to play.")
    speed: float = Field(default=3600.0, gt=0, description="Simulated seconds per real second.")
    seed: int = Field(default=2017_612, description="Seed: the same seed plays the same traffic.")
    api_key: SecretStr = Field(default=SecretStr("demo-ops-admin"),
                               description="Ops-admin API key the demo enables.")


class HubSettings(BaseSettings):
    """All settings of one hub process."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_nested_delimiter="__", frozen=True, extra="forbid",
    )

    log: LogSettings = LogSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    engine: EngineSettings = EngineSettings()
    hl7: Hl7Settings = Hl7Settings()
    lifecare: LifeCareSettings = LifeCareSettings()
    prator: PratorSettings = PratorSettings()
    kommun_mappings: dict[str, KommunMapping] = Field(
        default_factory=dict, description="Per kommunkod: how its system names fields and message types.")
    api: ApiSettings = ApiSettings()
    demo: DemoSettings = DemoSettings()
    timezone: Literal["Europe/Stockholm"] = Field(
        default="Europe/Stockholm", description="Deadlines are computed in this local time.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config: Path | None = None, **overrides: Any) -> HubSettings:
    """Settings from the environment, an optional TOML file and explicit overrides."""
    _CONFIG_FILE["path"] = config
    try:
        return HubSettings(**overrides)
    finally:
        _CONFIG_FILE["path"] = None
