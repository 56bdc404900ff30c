"""Readmissions (återinskrivningar): an episode that begins within the rule pack's window (30
calendar days, W19) after the discharge of an earlier episode of the same patient is linked to it.

Episodes are keyed by vårdtillfälle, so the engine republishes each episode's admission and
discharge on ``svu.internal.patients`` keyed by a keyed hash of the patient (never the
personnummer); this processor, keyed by that hash, sees all of a patient's episodes and emits
``ReadmissionLinked`` back onto ``svu.events`` for the later episode.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, Field

from hub.domain.calendar import local_date
from hub.domain.processor import Emit, Processor, Step
from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import PatientIndexEntry
from hub.schemas.payloads import ReadmissionLinked

SOURCE = "/hub/readmissions"
KEEP = 12
"""Episodes remembered per patient (the most recent ones)."""


class PatientEpisodes(BaseModel):
    """A patient's recent episodes and the links already published."""

    episodes: dict[str, PatientIndexEntry] = Field(default_factory=dict)
    linked: list[str] = Field(default_factory=list)


class ReadmissionProcessor(Processor[PatientEpisodes, PatientIndexEntry]):
    """Keyed by patient hash; emits ReadmissionLinked for episodes within the window."""

    NAME: ClassVar[str] = "readmissions"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.PATIENTS,)

    def encode_state(self, state: PatientEpisodes) -> bytes:
        return state.model_dump_json(exclude_defaults=True).encode()

    def decode_state(self, raw: bytes) -> PatientEpisodes:
        return PatientEpisodes.model_validate_json(raw)

    def decode_input(self, raw: bytes) -> PatientIndexEntry:
        return PatientIndexEntry.model_validate_json(raw)

    def on_event(self, state: PatientEpisodes | None, key: str, event: PatientIndexEntry,
                 now: dt.datetime) -> Step[PatientEpisodes]:
        current = state or PatientEpisodes()
        if current.episodes.get(event.episode_id) == event:
            return Step(current)
        episodes = {**current.episodes, event.episode_id: event}
        if len(episodes) > KEEP:
            newest = sorted(episodes.values(), key=lambda e: e.admitted_at or dt.datetime.min.replace(
                tzinfo=dt.UTC))[-KEEP:]
            episodes = {e.episode_id: e for e in newest}
        emits, linked = _links(episodes, current.linked)
        return Step(PatientEpisodes(episodes=episodes, linked=linked), tuple(emits))


def _links(episodes: dict[str, PatientIndexEntry], linked: list[str]) -> tuple[list[Emit], list[str]]:
    out: list[Emit] = []
    done = list(linked)
    valid = [e for e in episodes.values() if not e.cancelled and e.admitted_at is not None]
    for later in sorted(valid, key=lambda e: (e.admitted_at, e.episode_id)):
        if later.episode_id in done or later.admitted_at is None:
            continue
        earlier = [e for e in valid if e.episode_id != later.episode_id and e.discharged_at is not None
                   and e.discharged_at <= later.admitted_at]
        if not earlier:
            continue
        prev = max(earlier, key=lambda e: (e.discharged_at, e.episode_id))
        assert prev.discharged_at is not None
        # "within 30 days" counts calendar days (Stockholm dates), not elapsed time: 30 days
        # and an hour after the discharge is still within
        days = (local_date(later.admitted_at) - local_date(prev.discharged_at)).days
        if days > later.readmission_days:
            continue
        payload = ReadmissionLinked(previous_episode=prev.episode_id,
                                    previous_discharged_at=prev.discharged_at,
                                    admitted_at=later.admitted_at, days_after_discharge=days)
        ev = new_event(payload, episode_id=later.episode_id, source=SOURCE,
                       source_message_id=f"{later.episode_id}:after:{prev.episode_id}",
                       time=later.admitted_at, received_at=later.admitted_at, trusted=True)
        out.append(Emit(topics.EVENTS, later.episode_id, ev))
        done.append(later.episode_id)
    return out, done
