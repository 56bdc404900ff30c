"""The episode timeline read model: every event of one vårdtillfälle, from every source, in the
order it happened (event time, then receive time, then id). A re-delivered event (same id)
changes nothing.

The state also remembers which kommuner and units the episode concerns, so that the API can
scope what a kommun may read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.processor import Processor, Step
from hub.schemas import topics
from hub.schemas.envelope import Envelope


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
    """Read model of one vårdtillfälle."""

    episode_id: str
    entries: list[TimelineEntry] = Field(default_factory=list)
    municipalities: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list)

    def _sort_key(self, e: TimelineEntry) -> tuple[dt.datetime, dt.datetime, str]:
        return (e.time, e.received_at, e.id)


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
    if data.get("municipality"):
        kommuner.add(data["municipality"])
    for field in ("ward", "sender", "unit", "to_ward", "from_ward", "receiver", "responsible_unit"):
        value = data.get(field)
        if isinstance(value, str):
            units.add(value)
    for field in ("recipients", "participants"):
        for value in data.get(field) or ():
            units.add(value)
    return kommuner, units


class TimelineProcessor(Processor[Timeline]):
    """Builds ``Timeline`` per episode from ``svu.events``. Emits nothing."""

    NAME: ClassVar[str] = "timeline"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.EVENTS,)
    STATE = Timeline

    def on_event(
        self, state: Timeline | None, key: str, event: Envelope, now: dt.datetime
    ) -> Step[Timeline]:
        timeline = state if state is not None else Timeline(episode_id=key)
        if any(e.id == event.id for e in timeline.entries):
            return Step(timeline)
        data = event.data.model_dump(mode="json", exclude_none=True)
        entry = TimelineEntry(
            id=event.id,
            type=event.type,
            time=event.time,
            source=event.source,
            source_message_id=event.source_message_id,
            received_at=event.received_at,
            data=data,
        )
        entries = sorted([*timeline.entries, entry], key=timeline._sort_key)
        kommuner, units = _concerns(data)
        return Step(
            timeline.model_copy(
                update={
                    "entries": entries,
                    "municipalities": sorted(set(timeline.municipalities) | kommuner),
                    "units": sorted(set(timeline.units) | units),
                }
            )
        )
