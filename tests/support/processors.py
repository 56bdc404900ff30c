"""A processor for runtime tests: emits one output per input and counts per key, with no
deduplication, so that any lost or doubled output shows."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel

from hub.domain.processor import Emit, EventProcessor, Step
from hub.schemas import topics
from hub.schemas.base import TargetSystem
from hub.schemas.envelope import Envelope, new_event
from hub.schemas.operations import DeliveryRequested


class Count(BaseModel):
    seen: int = 0
    wake: dt.datetime | None = None
    fired: int = 0


class CountingProcessor(EventProcessor[Count]):
    NAME: ClassVar[str] = "counting"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.EVENTS,)
    STATE = Count
    OUTPUT: ClassVar[str] = "test.out"

    def __init__(self, wake_after: dt.timedelta | None = None, fail_on: str | None = None) -> None:
        self.wake_after = wake_after
        self.fail_on = fail_on

    def on_event(self, state: Count | None, key: str, event: Envelope, now: dt.datetime) -> Step[Count]:
        if self.fail_on is not None and event.source_message_id == self.fail_on:
            raise RuntimeError("deliberate failure with patient 191212121212 in the message")
        count = state or Count()
        out = new_event(
            DeliveryRequested(delivery_id=event.id, idempotency_key=event.source_message_id,
                              receiver="SE2321000222-X", system=TargetSystem.LIFECARE,
                              message_type=event.type, source_event_id=event.id),
            episode_id=key, source="/test/counting", source_message_id=event.source_message_id,
            time=now, received_at=now)
        wake = now + self.wake_after if self.wake_after else None
        new = Count(seen=count.seen + 1, wake=wake, fired=count.fired)
        return Step(new, (Emit(self.OUTPUT, key, out),), wake)

    def on_timer(self, state: Count, key: str, now: dt.datetime) -> Step[Count]:
        return Step(state.model_copy(update={"fired": state.fired + 1, "wake": None}))


class DeadlineProcessor(EventProcessor[Count]):
    """Sets a deadline ``wake_after`` past the last event of a key; when it passes, emits one
    'fired' record whose id is derived from the key and the count seen (a repeat is visible)."""

    NAME: ClassVar[str] = "deadline"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.EVENTS,)
    STATE = Count
    OUTPUT: ClassVar[str] = "test.fired"

    def __init__(self, wake_after: dt.timedelta) -> None:
        self.wake_after = wake_after

    def on_event(self, state: Count | None, key: str, event: Envelope, now: dt.datetime) -> Step[Count]:
        count = state or Count()
        wake = now + self.wake_after
        return Step(Count(seen=count.seen + 1, wake=wake, fired=count.fired), (), wake)

    def on_timer(self, state: Count, key: str, now: dt.datetime) -> Step[Count]:
        out = new_event(
            DeliveryRequested(delivery_id=f"{key}-deadline", idempotency_key=f"{key}-deadline-{state.seen}",
                              receiver="SE2321000222-X", system=TargetSystem.LIFECARE,
                              message_type="deadline", source_event_id=f"{key}-{state.seen}"),
            episode_id=key, source="/test/deadline", source_message_id=f"{key}-deadline-{state.seen}",
            time=now, received_at=now)
        return Step(state.model_copy(update={"fired": state.fired + 1, "wake": None}),
                    (Emit(self.OUTPUT, key, out),))
