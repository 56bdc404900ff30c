"""Swedish names for the console: every rule's namn, förklaring and källa, and the words for
outcomes, statuses and alert levels (``packs/labels.sv.yaml``). A county may override single
texts in ``packs/labels.<pack>.sv.yaml`` (same shape, only what differs). Sources cite
``packs/kallor.sv.md``, which ships with the hub."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.configfile import load_yaml, validate
from hub.errors import ConfigurationError

SOURCES_DOCUMENT = "kallor.sv.md"


class RuleLabel(BaseModel):
    """One rule as a coordinator reads it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namn: str = Field(min_length=3, max_length=120)
    forklaring: str = Field(min_length=3, max_length=300)
    kalla: str = Field(min_length=2, max_length=300)


class LevelLabel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    namn: str
    forklaring: str


class Labels(BaseModel):
    """Every Swedish text of the console."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: dict[str, RuleLabel]
    outcomes: dict[str, str]
    alert_states: dict[str, str]
    resolutions: dict[str, str]
    delivery_statuses: dict[str, str]
    dead_letter_statuses: dict[str, str]
    episode_statuses: dict[str, str]
    care_types: dict[str, str]
    circuit_states: dict[str, str]
    levels: dict[str, LevelLabel]
    sources: dict[str, str]
    events: dict[str, str]
    dead_letter_reasons: list[tuple[str, str]]
    default_reason: str

    def rule(self, code: str) -> RuleLabel:
        """The rule's label; an unknown code gets a readable fallback (never an error)."""
        found = self.rules.get(code)
        if found is not None:
            return found
        if code.startswith("sip_meeting_"):
            return RuleLabel(namn="SIP-möte", forklaring="SIP-mötet enligt färgspåret.", kalla="Färgspår (S2)")
        return RuleLabel(namn=code.replace("_", " ").capitalize(), forklaring="Regel utan svensk text.",
                         kalla="Regelpaketet")

    def short_reason(self, reason: str) -> str:
        """A short human reason for a dead letter; the technical text stays behind a toggle."""
        low = reason.lower()
        for pattern, text in self.dead_letter_reasons:
            if pattern in low:
                return text
        return self.default_reason


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if key == "__lines__":
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_labels(text: str, filename: str, override: str | None = None) -> Labels:
    """Labels from YAML text, with an optional override text; ConfigurationError if bad."""
    doc = load_yaml(text, filename)
    if not isinstance(doc, dict):
        raise ConfigurationError("a labels file must be a mapping", file=filename, line=1)
    if override is not None:
        extra = load_yaml(override, f"override of {filename}")
        if not isinstance(extra, dict):
            raise ConfigurationError("a labels override must be a mapping", file=filename, line=1)
        doc = _merge(doc, extra)
    return validate(Labels, doc, filename)


@cache
def labels_for(pack_id: str | None = None) -> Labels:
    """The shipped labels, with ``labels.<pack_id>.sv.yaml`` applied when it exists."""
    folder = files("hub.domain") / "packs"
    text = (folder / "labels.sv.yaml").read_text(encoding="utf-8")
    override = None
    if pack_id is not None:
        candidate = folder / f"labels.{pack_id}.sv.yaml"
        if candidate.is_file():
            override = candidate.read_text(encoding="utf-8")
    return parse_labels(text, "labels.sv.yaml", override)


def sources_document() -> str:
    """The shipped list of documents the rules cite (Markdown)."""
    return (files("hub.domain") / "packs" / SOURCES_DOCUMENT).read_text(encoding="utf-8")
