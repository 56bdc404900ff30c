"""Rule packs: the deadlines and agreements of one county (län) as data, with per-kommun
overrides. Shipped for Västerbotten, Norrbotten and Gävleborg, and Stockholm as a worked example
of different rules (domain.md §1–§3 and its Deadlines table). A pack is a YAML file validated by
``RulePack``; a bad file is refused with its file, line and field.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.domain.configfile import line_of, load_yaml, validate
from hub.errors import ConfigurationError

BUILTIN_PACKS = ("vasterbotten", "norrbotten", "gavleborg", "stockholm", "lag-2017-612")
LAW_PACK = "lag-2017-612"
"""The law's defaults: the pack of an episode whose region and kommun have no agreement."""
LIABILITY_CONDITIONS = frozenset({
    "admission_notice_to_kommun", "ready_notice_to_kommun", "sip_called_when_required",
    "primary_care_information_available",
})


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KvitteringPolicy(_Rules):
    """Kvitteringstider: receivers acknowledge at fixed times of day (Norrbotten 09:00 and 14:00,
    S4); weekends and röda dagar roll to the next working day, or are kept."""

    times: tuple[dt.time, ...] = Field(default=(dt.time(9), dt.time(14)), min_length=1)
    non_working_days: Literal["roll_forward", "keep"] = "roll_forward"


class Escalation(_Rules):
    """Delays after the deadline at which an open alert moves up a level (2, 3, …)."""

    after: tuple[dt.timedelta, ...] = (dt.timedelta(hours=4), dt.timedelta(hours=24))

    @model_validator(mode="after")
    def _increasing(self) -> Escalation:
        if list(self.after) != sorted(self.after) or any(d <= dt.timedelta(0) for d in self.after):
            raise ValueError("escalation delays must be positive and increasing")
        return self


class SipTiming(_Rules):
    """Days after discharge for the SIP meeting by färgspår (S2); red: at discharge or before."""

    green: tuple[int, int] = (7, 21)
    yellow: tuple[int, int] = (1, 6)
    red: tuple[int, int] = (0, 0)


class PaymentLiability(_Rules):
    """Betalningsansvar (domain.md §2): N calendar days after the underrättelse om
    utskrivningsklar, under the pack's conditions, at the daily rate of the year."""

    days_after_notice: int = Field(default=3, ge=0, le=60)
    psychiatry_days: int | None = Field(default=None, ge=0, le=60)
    notice_cutoff: dt.time | None = None
    requires: frozenset[str] = frozenset({"admission_notice_to_kommun", "ready_notice_to_kommun"})
    daily_rate: dict[int, int] = Field(default_factory=lambda: {2019: 7800, 2022: 9300})
    unknown_year: Literal["latest_earlier", "setting"] = Field(
        default="latest_earlier", description="A year without its own amount: the latest earlier "
        "year's, or the setting ``engine.liability_daily_rate_sek``.")
    setting_rate: int | None = Field(default=None, ge=0, description="The setting's amount, "
                                     "filled in by the composition root.")

    @model_validator(mode="after")
    def _known_conditions(self) -> PaymentLiability:
        unknown = set(self.requires) - LIABILITY_CONDITIONS
        if unknown:
            raise ValueError(f"unknown condition(s) {sorted(unknown)}; known: {sorted(LIABILITY_CONDITIONS)}")
        return self


class RulePack(_Rules):
    """One county's rules. ``municipalities`` holds per-kommun overrides of any section."""

    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    lanskod: str = Field(pattern=r"^\d{2}$", description="The county; 00 for the law's defaults.")
    sources: dict[str, str] = Field(default_factory=dict,
                                    description="rule field → the document it comes from")
    admission_notice_hours: int = Field(default=24, ge=1, le=240)
    kvittering: KvitteringPolicy = KvitteringPolicy()
    sip_invitation_days: int = Field(default=3, ge=0, le=30)
    sip_invitation_day_kind: Literal["calendar", "working"] = "calendar"
    sip_timing: SipTiming = SipTiming()
    payment_liability: PaymentLiability = PaymentLiability()
    discharge_documents_on: Literal["ready_for_discharge_day", "discharge_day"] = "discharge_day"
    planning_basis_stale_hours: int = Field(default=48, ge=1, le=720)
    stale_ready_days: int = Field(default=3, ge=1, le=60)
    readmission_days: int = Field(default=30, ge=1, le=365)
    escalation: Escalation = Escalation()
    municipalities: dict[str, dict[str, Any]] = Field(default_factory=dict)


    @field_validator("municipalities")
    @classmethod
    def _overrides_valid(
        cls, value: dict[str, dict[str, Any]], info: ValidationInfo
    ) -> dict[str, dict[str, Any]]:
        lanskod = info.data.get("lanskod", "")
        for kod, override in value.items():
            if not (len(kod) == 4 and kod.isdigit() and kod[:2] == lanskod):
                raise ValueError(f"override for {kod}: not a kommunkod of län {lanskod}")
            if "municipalities" in override or "id" in override:
                raise ValueError(f"override for {kod}: may not change 'id' or 'municipalities'")
        return value

    @model_validator(mode="after")
    def _overrides_merge(self) -> RulePack:
        for override in self.municipalities.values():
            self._merged(override)
        return self

    def _merged(self, override: dict[str, Any]) -> RulePack:
        base = self.model_dump(exclude={"municipalities"})
        return RulePack.model_validate(_deep_merge(base, override))

    def for_municipality(self, kommunkod: str | None) -> RulePack:
        """The effective pack for a kommun: its overrides merged over the county's values."""
        cache = _cache(self)
        found = cache.effective.get(kommunkod)
        if found is None:
            override = self.municipalities.get(kommunkod or "")
            found = self._merged(override) if override else self
            if override:
                object.__setattr__(found, "id", f"{self.id}/{kommunkod}")
            cache.effective[kommunkod] = found
        return found

    def source_of(self, field: str) -> str:
        """Where a rule's value comes from, for alerts: ``<pack>.yaml#<field> (<document>)``."""
        cache = _cache(self)
        found = cache.sources.get(field)
        if found is None:
            found = cache.sources[field] = self._source_of(field)
        return found

    def _source_of(self, field: str) -> str:
        base = self.id.split("/")[0]
        where = f"{base}.yaml#{field}"
        if "/" in self.id:
            where += f" (kommun {self.id.split('/')[1]})"
        doc = self.sources.get(field.split(".")[0])
        return f"{where} ({doc})" if doc else where


class _PackCache:
    """Derived values of one pack (packs are immutable; the cache keeps its pack alive, so an
    id() is never reused while its entry exists)."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self.effective: dict[str | None, RulePack] = {}
        self.sources: dict[str, str] = {}


_CACHES: dict[int, _PackCache] = {}


def _cache(pack: RulePack) -> _PackCache:
    found = _CACHES.get(id(pack))
    if found is None or found.pack is not pack:
        found = _CACHES[id(pack)] = _PackCache(pack)
    return found


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_rule_pack(text: str, filename: str) -> RulePack:
    """A rule pack from YAML text; ConfigurationError naming file, line and field.

    A file with ``base: <shipped pack>`` holds only overrides (kvitteringstider, weekend
    policy, days …), merged over that pack; ``id`` defaults to ``<base>+<file name>``.
    """
    doc = load_yaml(text, filename)
    if not isinstance(doc, dict):
        raise ConfigurationError("a rule pack must be a mapping", file=filename, line=1)
    base_id = doc.get("base")
    if base_id is None:
        return validate(RulePack, doc, filename)
    if not isinstance(base_id, str) or base_id not in BUILTIN_PACKS:
        raise ConfigurationError(f"base must be a shipped pack: {', '.join(BUILTIN_PACKS)}",
                                 file=filename, line=line_of(doc, ("base",)), field="base")
    base = builtin_pack(base_id).model_dump()
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    default_id = re.sub(r"[^a-z0-9_-]+", "-", f"{base_id}-{stem}").strip("-")
    overrides = {k: v for k, v in doc.items() if k != "base"}
    merged = _deep_merge(base, {"id": default_id, **_plain(overrides)})
    return validate(RulePack, _relined(merged, doc), filename)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _relined(merged: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """The merged pack with the override file's line numbers, for error messages."""
    return {**merged, "__lines__": doc.get("__lines__", {})}


@cache
def builtin_pack(pack_id: str) -> RulePack:
    """One of the shipped packs (``BUILTIN_PACKS``)."""
    if pack_id not in BUILTIN_PACKS:
        raise ConfigurationError(f"unknown rule pack '{pack_id}'; shipped: {', '.join(BUILTIN_PACKS)}")
    text = (files("hub.domain") / "packs" / f"{pack_id}.yaml").read_text(encoding="utf-8")
    return parse_rule_pack(text, f"{pack_id}.yaml")
