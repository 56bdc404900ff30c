"""The episode timeline read model: every event of one vårdtillfälle, from every source, in the
order it happened (event time, then receive time, then id). A re-delivered event (same id)
changes nothing.

The state also remembers which kommuner and units the episode concerns, so that the API can
scope what a kommun may read. Events on the log were validated at ingest, so the timeline keeps
their JSON as it is (no second validation): the state is plain JSON, cheap to update and store.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from hub.domain.processor import Processor, Step
from hub.schemas import topics

_UNIT_FIELDS = ("ward", "sender", "unit", "to_ward", "from_ward", "receiver", "responsible_unit")
_UNIT_LISTS = ("recipients", "participants")


class TimelineEntry(BaseModel):
    """One event as the timeline shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    time: dt.datetime
    source: str
    source_message_id: str
    received_at: dt.datetime
    data: dict[str, Any]


class Timeline(BaseModel):
    """Read model of one vårdtillfälle (the API's view of the processor's state)."""

    episode_id: str
    entries: list[TimelineEntry] = Field(default_factory=list)
    municipalities: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list)


State = dict[str, Any]
"""{"episode_id", "entries": [entry dicts sorted by "_k"], "municipalities", "units"}"""


def _concerns(data: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Kommunkoder and HSA-ids a payload mentions (patient.municipality, unit fields)."""
    kommuner: set[str] = set()
    units: set[str] = set()
    patient = data.get("patient")
    if isinstance(patient, dict):
        if patient.get("municipality"):
            kommuner.add(patient["municipality"])
        if patient.get("listed_unit"):
            units.add(patient["listed_unit"])
    if isinstance(data.get("municipality"), str):
        kommuner.add(data["municipality"])
    for field in _UNIT_FIELDS:
        value = data.get(field)
        if isinstance(value, str):
            units.add(value)
    for field in _UNIT_LISTS:
        for value in data.get(field) or ():
            units.add(value)
    return kommuner, units


def _utc_key(value: str) -> str:
    """Sortable UTC text of an ISO-8601 time (canonical events are UTC with a 'Z')."""
    if value.endswith("Z"):
        return value
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class TimelineProcessor(Processor[State, dict[str, Any]]):
    """Builds the timeline per episode from ``svu.events``. Emits nothing."""

    NAME: ClassVar[str] = "timeline"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.EVENTS,)

    def encode_state(self, state: State) -> bytes:
        return orjson.dumps(state)

    def decode_state(self, raw: bytes) -> State:
        state: State = orjson.loads(raw)
        return state

    def decode_input(self, raw: bytes) -> dict[str, Any]:
        event: dict[str, Any] = orjson.loads(raw)
        for field in ("id", "type", "time", "source", "sourcemessageid", "receivedtime", "data"):
            if field not in event:
                raise ValueError(f"canonical event without '{field}'")
        return event

    def on_event(self, state: State | None, key: str, event: dict[str, Any],
                 now: dt.datetime) -> Step[State]:
        entries: list[dict[str, Any]] = state["entries"] if state else []
        if any(e["id"] == event["id"] for e in entries):
            return Step(state)
        entry = {
            "id": event["id"], "type": event["type"], "time": event["time"],
            "source": event["source"], "source_message_id": event["sourcemessageid"],
            "received_at": event["receivedtime"], "data": event["data"],
            "_k": f"{_utc_key(event['time'])}|{_utc_key(event['receivedtime'])}|{event['id']}",
        }
        new_entries = list(entries)
        bisect.insort(new_entries, entry, key=lambda e: str(e["_k"]))
        kommuner, units = _concerns(event["data"])
        old_k = state["municipalities"] if state else []
        old_u = state["units"] if state else []
        return Step({
            "episode_id": key,
            "entries": new_entries,
            "municipalities": old_k if kommuner <= set(old_k) else sorted(kommuner | set(old_k)),
            "units": old_u if units <= set(old_u) else sorted(units | set(old_u)),
        })

    @staticmethod
    def view(state: State) -> Timeline:
        """The API's typed view of a stored timeline."""
        return Timeline(
            episode_id=state["episode_id"],
            entries=[TimelineEntry(**{k: v for k, v in e.items() if k != "_k"})
                     for e in state["entries"]],
            municipalities=state["municipalities"],
            units=state["units"],
        )
