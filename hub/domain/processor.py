"""The processor contract: a pure function of (state, event, now) → (new state, outputs, timer).

A processor never reads the clock, never does I/O and never imports a runtime. The runtime
(embedded or Faust) keys state by the record key (the episode id), feeds events in log order per
key, persists the state and the next timer together with the outputs, and calls ``on_timer`` once
the timer is due.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel

from hub.schemas.envelope import Envelope

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Emit:
    """One output event for a topic, keyed (normally by the episode id)."""

    topic: str
    key: str
    event: Envelope


@dataclass(frozen=True, slots=True)
class Step(Generic[S]):
    """What one call of a processor produced.

    ``state`` None deletes the key's state; ``wake_at`` None clears its timer.
    """

    state: S | None
    emits: tuple[Emit, ...] = ()
    wake_at: dt.datetime | None = None


class Processor(ABC, Generic[S]):
    """Base of every processor. ``NAME`` is its consumer name and state store."""

    NAME: ClassVar[str]
    INPUTS: ClassVar[tuple[str, ...]]
    STATE: type[S]

    def encode_state(self, state: S) -> bytes:
        return state.model_dump_json(exclude_defaults=True).encode()

    def decode_state(self, raw: bytes) -> S:
        return self.STATE.model_validate_json(raw)

    @abstractmethod
    def on_event(self, state: S | None, key: str, event: Envelope, now: dt.datetime) -> Step[S]:
        """Apply one event to the key's state."""

    def on_timer(self, state: S, key: str, now: dt.datetime) -> Step[S]:
        """Called once the key's ``wake_at`` has passed. Default: nothing to do."""
        return Step(state)
