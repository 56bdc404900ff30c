"""The statistics processor: keyed by kommunkod + month, it keeps each closed episode's figures
and publishes the month's figures on ``svu.stats`` whenever they change."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, Field

from hub.domain.calendar import at_local
from hub.domain.figures import monthly
from hub.domain.processor import Emit, Processor, Step
from hub.schemas import topics
from hub.schemas.base import CareType
from hub.schemas.envelope import new_event
from hub.schemas.figures import EpisodeFigures, MonthlyFigures

SOURCE = "/hub/stats"


class MonthState(BaseModel):
    """One kommun's month: every closed episode's figures, by episode id."""

    episodes: dict[str, EpisodeFigures] = Field(default_factory=dict)
    published: dict[str, str] = Field(default_factory=dict, description="care type → last JSON")

    def figures(self, key: str) -> list[MonthlyFigures]:
        kommun, month = key.split(":")
        return [monthly(kommun, month, care, self.episodes.values()) for care in CareType]


def stats_key(municipality: str, month: str) -> str:
    return f"{municipality}:{month}"


class StatsProcessor(Processor[MonthState, EpisodeFigures]):
    """Monthly follow-up figures per kommun."""

    NAME: ClassVar[str] = "stats"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.FIGURES,)

    def encode_state(self, state: MonthState) -> bytes:
        return state.model_dump_json(exclude_defaults=True).encode()

    def decode_state(self, raw: bytes) -> MonthState:
        return MonthState.model_validate_json(raw)

    def decode_input(self, raw: bytes) -> EpisodeFigures:
        return EpisodeFigures.model_validate_json(raw)

    def on_event(self, state: MonthState | None, key: str, event: EpisodeFigures,
                 now: dt.datetime) -> Step[MonthState]:
        current = state or MonthState()
        episodes = dict(current.episodes)
        if event.retract:
            episodes.pop(event.episode_id, None)
        else:
            episodes[event.episode_id] = event
        new = MonthState(episodes=dict(sorted(episodes.items())), published=dict(current.published))
        emits = []
        for figures in new.figures(key):
            body = figures.model_dump_json()
            if new.published.get(figures.care_type.value) == body:
                continue
            if figures.episodes_closed == 0 and figures.care_type.value not in new.published:
                continue
            new.published[figures.care_type.value] = body
            version = len(episodes)
            # the month's own first instant, not the processing clock: a replay gives the same
            at = at_local(dt.date.fromisoformat(f"{figures.month}-01"), dt.time(0))
            ev = new_event(figures, episode_id=key, source=SOURCE,
                           source_message_id=f"{key}:{figures.care_type.value}:{version}:{event.episode_id}",
                           time=at, received_at=at, subject=key, trusted=True)
            emits.append(Emit(topics.STATS, key, ev))
        new.published = dict(sorted(new.published.items()))  # same bytes whatever the arrival order
        return Step(new, tuple(emits))
