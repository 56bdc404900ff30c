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

from hub.schemas.envelope import Envelope, parse_event

S = TypeVar("S")
E = TypeVar("E")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Emit:
    """One output record for a topic, keyed (normally by the episode id): a canonical event, or
    another record of the canonical model (e.g. a DeadLetter)."""

    topic: str
    key: str
    event: BaseModel

    def to_bytes(self) -> bytes:
        if isinstance(self.event, Envelope):
            return self.event.to_json()
        return self.event.model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class Step(Generic[S]):
    """What one call of a processor produced.

    ``state`` None deletes the key's state; ``wake_at`` None clears its timer.
    """

    state: S | None
    emits: tuple[Emit, ...] = ()
    wake_at: dt.datetime | None = None


class Processor(ABC, Generic[S, E]):
    """Base of every processor: state type ``S``, input type ``E``.

    ``NAME`` is its consumer name and state store; ``INPUTS`` the topics it reads. The runtime
    decodes each input record with ``decode_input`` and stores state with ``encode_state``.
    """

    NAME: ClassVar[str]
    INPUTS: ClassVar[tuple[str, ...]]

    @abstractmethod
    def encode_state(self, state: S) -> bytes: ...

    @abstractmethod
    def decode_state(self, raw: bytes) -> S: ...

    @abstractmethod
    def decode_input(self, raw: bytes) -> E:
        """Decode one input record; raising sends the record to the dead-letter topic."""

    @abstractmethod
    def on_event(self, state: S | None, key: str, event: E, now: dt.datetime) -> Step[S]:
        """Apply one event to the key's state."""

    def on_timer(self, state: S, key: str, now: dt.datetime) -> Step[S]:
        """Called once the key's ``wake_at`` has passed. Default: nothing to do."""
        return Step(state)


class EventProcessor(Processor[M, Envelope]):
    """A processor of canonical events with a pydantic state model ``STATE``."""

    STATE: type[M]

    def encode_state(self, state: M) -> bytes:
        return state.model_dump_json(exclude_defaults=True).encode()

    def decode_state(self, raw: bytes) -> M:
        return self.STATE.model_validate_json(raw)

    def decode_input(self, raw: bytes) -> Envelope:
        return parse_event(raw)
