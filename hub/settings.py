"""Settings: one frozen model per component, composed into ``HubSettings``.

Read from ``HUB_`` environment variables (nested with ``__``, e.g. ``HUB_LOG__PATH``) and from
an optional TOML file (``hub --config hub.toml``; environment wins). Every field has a
description: the configuration reference and the Helm values schema are generated from them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
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
from hub.schemas.identifiers import Kommunkod, validate_kommunkod, validate_lanskod


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
    lock_timeout_s: float = Field(
        default=1.0, gt=0, le=60,
        description="Longest wait for the write lock; then MLLP answers AR and HTTP 503 (send again).")


class RuntimeSettings(_Component):
    """The embedded processor runtime."""

    batch_size: int = Field(default=500, ge=1, le=100_000, description="Records per transaction.")
    idle_sleep_s: float = Field(default=0.05, gt=0, le=5, description="Poll interval when idle.")
    max_lag: int = Field(default=10_000, ge=0, description="/ready fails above this many unread records.")
    mode: Literal["process", "thread"] = Field(
        default="process", description="Where `hub run` runs the processors: a process of their own "
        "(no shared interpreter lock with MLLP and HTTP) or a thread.")
    cache_mb: float = Field(default=64.0, gt=0, le=65_536,
                            description="Processors' state cache, in MiB over all processors (encoded size).")
    restart_backoff_s: float = Field(default=0.2, gt=0, le=60,
                                     description="First wait before a failed task is restarted (doubles).")
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600, description="Longest wait between restarts.")
    crash_loop: int = Field(default=5, ge=1, le=1000, description="Restarts within a minute that count as "
                            "a crash loop (/ready false, ops alert).")


class AgreementSettings(_Component):
    """A bilateral agreement: the hospitals of ``region`` and patients of ``municipality``."""

    region: str = Field(pattern=r"^\d{2}$", description="Länskod of the hospitals' region.")
    municipality: str = Field(pattern=r"^(\d{2}|\d{4})$",
                              description="Kommunkod of the patients' kommun, or a länskod for all of its kommuner.")
    pack: str = Field(description="The agreement's rule pack: a shipped id or a file (a file with "
                      "'base: <pack>' holds only overrides).")

    @field_validator("region", "municipality")
    @classmethod
    def _known(cls, value: str) -> str:
        """A län or kommun of the shipped table (SCB's codes)."""
        return validate_lanskod(value) if len(value) == 2 else validate_kommunkod(value)


class EngineSettings(_Component):
    """The process engine: which rule pack, which unit directory."""

    rule_pack: str = Field(
        default="vasterbotten",
        description="The hub's own county's rule pack: a shipped one (vasterbotten, norrbotten, "
        "gavleborg, stockholm, lag-2017-612) or the path of a pack file (YAML; a file with "
        "'base: <pack>' holds only overrides). Its län is the region of hospitals not in the directory.")
    packs: list[str] = Field(
        default_factory=list, description="Other counties' rule packs (shipped ids or files), for "
        "a hub that serves the hospitals of several regions: each applies to its own region's "
        "hospitals and kommuner.")
    agreements: list[AgreementSettings] = Field(
        default_factory=list, description="Bilateral agreements between a region and a kommun (or "
        "a whole county) of another län; they win over the county packs and the law's defaults.")
    liability_daily_rate_sek: int | None = Field(
        default=None, ge=0, description="Amount per vårddygn for years Socialstyrelsen's amount is "
        "not known to the law's pack (lag-2017-612); the report says when it was used.")
    directory: Path | None = Field(
        default=None, description="Unit directory file (YAML), or a folder of such files (one per "
        "region, side by side); reloadable while running. Without it meddelanden are not routed.")
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


HUVUDMAN_PATTERN = r"^(region:\d{2}|kommun:\d{4})$"


def _known_huvudman(value: str | None) -> str | None:
    from hub.schemas.geography import is_known_kommunkod, kommuner

    if value is None:
        return None
    kind, code = value.split(":", 1)
    if kind == "kommun" and not is_known_kommunkod(code):
        raise ValueError("not a known kommunkod")
    if kind == "region" and not kommuner(code):
        raise ValueError("not a known länskod")
    return value


class ApiKey(_Component):
    """One API key and the principal it stands for."""

    key: SecretStr = Field(description="The secret sent as 'Authorization: Bearer <key>' or X-API-Key.")
    principal: str = Field(min_length=1, max_length=100, description="Who, as written to the audit log.")
    role: Role = Field(description="ops_admin, region, kommun or dashboard.")
    municipality: Kommunkod | None = Field(default=None, description="Kommunkod a kommun key is bound to "
                                           "(short for huvudman 'kommun:<kommunkod>').")
    huvudman: str | None = Field(default=None, pattern=HUVUDMAN_PATTERN, description="The huvudman the key "
                                 "acts for: 'region:<länskod>' or 'kommun:<kommunkod>'. A region key without "
                                 "it acts for the region whose hospitals the directory lists.")
    units: tuple[str, ...] = Field(default=(), max_length=500, description="Optionally narrows the key to "
                                   "these units (HSA-ids) of its huvudman.")

    @model_validator(mode="after")
    def _bound(self) -> ApiKey:
        _known_huvudman(self.huvudman)
        if self.municipality is not None and self.huvudman not in (None, f"kommun:{self.municipality}"):
            raise ValueError("municipality and huvudman name different kommuner")
        if self.role is Role.MUNICIPALITY and self.acts_for is None:
            raise ValueError("a kommun key needs its kommun (huvudman 'kommun:<kommunkod>' or municipality)")
        if self.role is Role.MUNICIPALITY and not str(self.acts_for).startswith("kommun:"):
            raise ValueError("a kommun key acts for a kommun")
        if self.role is Role.REGION and self.huvudman is not None and not self.huvudman.startswith("region:"):
            raise ValueError("a region key acts for a region")
        return self

    @property
    def acts_for(self) -> str | None:
        """The huvudman, from ``huvudman`` or ``municipality``."""
        if self.huvudman is not None:
            return self.huvudman
        return f"kommun:{self.municipality}" if self.municipality else None


class JwtSettings(_Component):
    """Bearer tokens (JWT) from the organisation's identity provider: a static key, or the keys
    of a JWKS URL (fetched with PyJWT's PyJWKClient, cached, re-fetched for an unknown key id)."""

    issuer: str | None = Field(default=None, description="Required 'iss'; None disables JWT.")
    audience: str = Field(default="svu-hub", description="Required 'aud'.")
    algorithms: tuple[str, ...] = Field(default=("RS256",), description="Accepted algorithms.")
    key: SecretStr | None = Field(default=None, description="PEM public key (RS/ES) or shared secret (HS).")
    jwks_url: str | None = Field(default=None, description="JWKS URL of the identity provider (key rotation).")
    jwks_cache_s: int = Field(default=300, ge=0, le=86_400, description="How long fetched JWKS keys are kept.")
    jwks_refresh_cooldown_s: float = Field(default=30, ge=0, le=3600, description="Least time between two "
                                           "fetches for a key id not seen yet (rotation).")
    role_claim: str = Field(default="svu_role", description="Claim holding the role.")
    huvudman_claim: str = Field(default="svu_huvudman",
                                description="Claim holding 'region:<länskod>' or 'kommun:<kommunkod>'.")
    municipality_claim: str = Field(default="svu_kommun", description="Claim holding a kommun's kommunkod "
                                    "(when the token has no huvudman claim).")
    units_claim: str = Field(default="svu_units", description="Claim with a list of HSA-ids narrowing the token.")


class ApiSettings(_Component):
    """The ops API."""

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port of the API (0: any free).")
    keys: tuple[ApiKey, ...] = Field(default=(), description="API keys (embedded default).")
    jwt: JwtSettings = Field(default_factory=JwtSettings, description="Bearer tokens (JWT).")
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=1024 ** 3,
                                description="Largest request body; larger ones get 413 before they are read whole.")
    dead_letter_prefix_bytes: int = Field(default=2 * 1024 * 1024, ge=0, le=1024 ** 3,
                                          description="Dead letters keep at most this many bytes of the input.")
    auth_failures_per_minute: int = Field(default=10, ge=1, le=100_000,
                                          description="Failed authentications per client and minute before 429.")
    tls_certfile: Path | None = Field(default=None, description="PEM certificate (chain) for HTTPS; "
                                      "without it the API speaks plain HTTP (behind a TLS-terminating proxy).")
    tls_keyfile: Path | None = Field(default=None, description="PEM private key of tls_certfile.")
    file_settle_s: float = Field(default=2.0, ge=0, le=3600,
                                 description="An inbox file is read once its size was unchanged this long.")


class DemoSettings(_Component):
    """The demo feed that plays a county's traffic."""

    county: Literal["vasterbotten", "norrbotten", "gavleborg"] = Field(
        default="vasterbotten", description="County whose kommuner the demo plays.")
    episodes: int = Field(default=60, ge=1, le=100_000, description="Vårdtillfällen to play.")
    speed: float = Field(default=3600.0, gt=0, description="Simulated seconds per real second.")
    seed: int = Field(default=2017_612, description="Seed: the same seed plays the same traffic.")
    api_key: SecretStr = Field(default=SecretStr("demo-ops-admin"),
                               description="Ops-admin API key the demo enables.")


class BridgeSettings(_Component):
    """The bridge to Prator and LifeCare made visible: when a pending delivery is "stuck"."""

    stuck_after_s: float = Field(default=3600.0, gt=0, le=7 * 86400,
                                 description="A delivery pending longer than this raises a "
                                 "'delivery_stuck' alert and counts in svu_hub_deliveries_stuck.")
    check_every_s: float = Field(default=15.0, gt=0, le=3600,
                                 description="How often the bridge monitor looks.")


class NotifyMatch(_Component):
    """Which alerts a recipient gets; an empty list matches everything."""

    units: tuple[str, ...] = Field(default=(), description="Responsible units (HSA-id).")
    municipalities: tuple[Kommunkod, ...] = Field(default=(), description="Kommunkoder.")
    rules: tuple[str, ...] = Field(default=(), description="Rule codes, e.g. kvittering.")
    levels: tuple[int, ...] = Field(default=(), description="Levels: 1 when raised, 2, 3, … on escalation.")


class WebhookRecipient(_Component):
    """A webhook that receives each matching alert as JSON (POST)."""

    url: str = Field(pattern=r"^https?://", description="Where to POST the JSON.")
    match: NotifyMatch = Field(default_factory=NotifyMatch, description="Which alerts.")
    token: SecretStr | None = Field(default=None, description="Sent as 'Authorization: Bearer <token>'.")


class EmailRecipient(_Component):
    """E-mail addresses that receive each matching alert."""

    to: tuple[str, ...] = Field(min_length=1, description="Addresses.")
    match: NotifyMatch = Field(default_factory=NotifyMatch, description="Which alerts.")


class SmtpSettings(_Component):
    """The mail server (SMTP with STARTTLS)."""

    host: str = Field(default="127.0.0.1", description="SMTP server.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port (submission).")
    starttls: bool = Field(default=True, description="Upgrade with STARTTLS before sending (required "
                           "unless explicitly off for a local relay).")
    ca_file: Path | None = Field(default=None, description="PEM of the CA that signed the server (default: "
                                 "the system's).")
    username: str | None = Field(default=None, description="SMTP AUTH user.")
    password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    sender: str = Field(default="svu-hub@localhost", description="From address.")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per attempt.")


class NotifySettings(_Component):
    """The escalation routine: on raise and each escalation level, webhook and e-mail. A
    notification names the rule, the level, the units and the episode id with a console link,
    never the patient."""

    enabled: bool = Field(default=False, description="Send notifications.")
    console_url: str = Field(default="http://127.0.0.1:8000/dashboard",
                             description="Base of the console link in each notification.")
    webhooks: tuple[WebhookRecipient, ...] = Field(default=(), description="Webhook recipients.")
    email: tuple[EmailRecipient, ...] = Field(default=(), description="E-mail recipients.")
    smtp: SmtpSettings = Field(default_factory=SmtpSettings, description="Mail server.")
    attempts: int = Field(default=5, ge=1, le=20, description="Tries per notification and recipient.")
    backoff_initial_s: float = Field(default=1.0, gt=0, le=60, description="First back-off.")
    backoff_max_s: float = Field(default=60.0, gt=0, le=3600, description="Longest back-off.")
    poll_s: float = Field(default=1.0, gt=0, le=60, description="How often new alerts are looked for.")


class KafkaSecurity(StrEnum):
    """How the hub authenticates to the Kafka brokers (Kafka's ``security.protocol``)."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSettings(_Component):
    """The distributed backbone: Apache Kafka, with the processors run as Faust agents.

    Security: TLS (``security_protocol`` SSL or SASL_SSL, with a CA file and optionally a client
    certificate), SASL/SCRAM-SHA-256/512 (user and password) or SASL/OAUTHBEARER (a token read
    from a file that the platform keeps fresh, e.g. a projected Kubernetes service-account token).
    """

    bootstrap_servers: tuple[str, ...] = Field(
        default=("127.0.0.1:9092",), min_length=1,
        description="host:port of one or more brokers to bootstrap from.")
    security_protocol: KafkaSecurity = Field(
        default=KafkaSecurity.PLAINTEXT, description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
    ssl_cafile: Path | None = Field(default=None, description="PEM of the CA(s) that signed the brokers.")
    ssl_certfile: Path | None = Field(default=None, description="PEM client certificate for mutual TLS.")
    ssl_keyfile: Path | None = Field(default=None, description="PEM private key of the client certificate.")
    ssl_key_password: SecretStr | None = Field(default=None, description="Password of the private key.")
    ssl_check_hostname: bool = Field(default=True, description="Verify the brokers' host names (TLS).")
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = Field(
        default=None, description="SASL mechanism: SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.")
    sasl_username: str | None = Field(default=None, description="SASL/SCRAM user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL/SCRAM password.")
    sasl_oauth_token_file: Path | None = Field(
        default=None, description="SASL/OAUTHBEARER: file holding the current access token (re-read "
        "at each authentication).")
    client_id: str = Field(default="svu-hub", min_length=1, description="Client id sent to the brokers.")
    app_id: str = Field(default="svu-hub", min_length=1, pattern=r"^[A-Za-z0-9._-]+$",
                        description="Faust application id: consumer group and prefix of the "
                        "changelog topics.")
    content_mode: Literal["binary", "structured"] = Field(
        default="binary", description="CloudEvents Kafka binding of produced events: binary "
        "(ce_ headers, data as the value) or structured (the whole envelope as the value).")
    partitions: int = Field(default=12, ge=1, le=10_000,
                            description="Partitions of the input topics (changelogs are co-partitioned).")
    store: str = Field(default="memory://", pattern=r"^(memory|rocksdb)://", description="Faust table "
                       "store: memory:// (rebuilt from the changelogs at each start) or rocksdb:// (rocksdict, "
                       "kept in data_dir: a restart reads only the changelog's tail).")
    data_dir: Path = Field(default=Path("var/faust"), description="Folder of the worker's local table store.")
    group_instance_id: str | None = Field(
        default=None, description="Static group membership (KIP-345): a stable id per worker, e.g. "
        "the pod name, so that a restarted worker takes its partitions back without a rebalance.")
    session_timeout_s: float = Field(default=10.0, gt=0, le=300,
                                     description="Consumer session timeout: how long a silent worker "
                                     "keeps its partitions.")
    heartbeat_interval_s: float = Field(default=1.0, gt=0, le=60, description="Consumer heartbeat interval.")
    rebalance_timeout_s: float = Field(default=10.0, gt=0, le=300,
                                       description="How long the group waits for members to rejoin.")
    batch_size: int = Field(default=1000, ge=1, le=100_000,
                            description="Events a worker takes from a stream at once.")
    batch_within_s: float = Field(default=0.05, gt=0, le=10,
                                  description="Longest wait to fill a batch.")
    timer_interval_s: float = Field(default=1.0, gt=0, le=3600,
                                    description="How often a worker looks for due timers.")
    replication_factor: int = Field(default=3, ge=1, le=10,
                                    description="Replication of the changelog topics.")
    declare_topics: bool = Field(
        default=True, description="Let workers create their changelog topics; off where `hub "
        "topics` manages them or the cluster refuses CreateTopics.")
    web_enabled: bool = Field(default=True, description="Serve the worker's /health and /ready.")
    web_host: str = Field(default="127.0.0.1", description="Address of the worker's probe server.")
    web_port: int = Field(default=6066, ge=0, le=65535, description="Port of the worker's probe server.")


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
    kommun_inbox: Path | None = Field(
        default=None, description="Kommun CSV files dropped in <kommun_inbox>/<kommunkod>/ are ingested.")
    kommun_mappings: dict[str, KommunMapping] = Field(
        default_factory=dict, description="Per kommunkod: how its system names fields and message types.")
    api: ApiSettings = ApiSettings()
    demo: DemoSettings = DemoSettings()
    bridge: BridgeSettings = BridgeSettings()
    notify: NotifySettings = NotifySettings()
    kafka: KafkaSettings = KafkaSettings()
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
