"""Cutover of a unit from Prator to LifeCare (or back): routing already sends every meddelande
dated on or after the unit's cutover to its new system; this plans — and on request carries out —
the hand-over of each open episode's earlier meddelanden to the new system, once, marked as a
hand-over, with idempotency keys derived from the originals (so applying twice sends nothing
new)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.domain.directory import UnitDirectory
from hub.domain.engine import EpisodeEngine
from hub.errors import ConfigurationError
from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import DeliveryRequested
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog


@dataclass
class Handover:
    """What one open episode will get on the unit's new system."""

    episode_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CutoverPlan:
    unit: str
    name: str
    date: dt.date
    old_system: str
    new_system: str
    handover: bool
    episodes: list[Handover]

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "date": self.date.isoformat(),
                "from": self.old_system, "to": self.new_system, "handover": self.handover,
                "episodes": [{"episode_id": h.episode_id,
                              "messages": [{"type": m["message_type"], "time": m["content"].get("time")}
                                           for m in h.messages]} for h in self.episodes]}


def _records(log: SqliteLog, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for p in range(log.partitions(topic)) for r in log.read(topic, p, 0, 10**9)]


def handover_key(key: str) -> str:
    return hashlib.sha256(f"{key}|handover".encode()).hexdigest()[:32]


def plan(log: SqliteLog, directory: UnitDirectory, unit_id: str, date: dt.date) -> CutoverPlan:
    """The open episodes whose meddelanden went to the unit on its old system before ``date``."""
    unit = directory.get(unit_id)
    if unit is None:
        raise ConfigurationError(f"unit {unit_id} is not in the unit directory")
    old, new = unit.system_on(date - dt.timedelta(days=1)).value, unit.system_on(date).value
    episodes: dict[str, Handover] = {}
    if old != new:
        already = {e["data"]["idempotency_key"] for e in _records(log, topics.deliveries(new, unit_id))
                   if e["type"] == "se.svu.delivery_requested.v1"}
        for event in _records(log, topics.deliveries(old, unit_id)):
            if event["type"] != "se.svu.delivery_requested.v1":
                continue
            raw = log.get_state(EpisodeEngine.NAME, event["episodeid"])
            state = EpisodeEngine.STATE.model_validate_json(raw) if raw else None
            if state is None or state.is_discharged or state.is_cancelled:
                continue
            if handover_key(event["data"]["idempotency_key"]) in already:
                continue
            episodes.setdefault(event["episodeid"], Handover(event["episodeid"])).messages.append(event["data"])
    return CutoverPlan(unit_id, unit.name, date, old, new, unit.handover_on_cutover,
                       sorted(episodes.values(), key=lambda h: h.episode_id))


def apply(log: SqliteLog, cutover: CutoverPlan, now: dt.datetime) -> int:
    """Send the planned hand-over (only when the directory asks for one). Returns deliveries queued."""
    if not cutover.handover or cutover.old_system == cutover.new_system:
        return 0
    appends = []
    for episode in cutover.episodes:
        for data in episode.messages:
            payload = DeliveryRequested(**{**data, "system": cutover.new_system, "handover": True,
                                           "delivery_id": f"{data['delivery_id']}:handover",
                                           "idempotency_key": handover_key(data["idempotency_key"])})
            ev = new_event(payload, episode_id=episode.episode_id, source="/hub/cutover",
                           source_message_id=f"{data['delivery_id']}:handover", time=now, received_at=now)
            appends.append(Append(topics.deliveries(cutover.new_system, cutover.unit), episode.episode_id,
                                  ev.to_json()))
    if appends:
        log.append(appends)
    return len(appends)
