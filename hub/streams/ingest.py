"""Ingest of canonical events: validate, then append the good ones to ``svu.events`` (as
received) and the bad ones, with their reasons, to ``svu.dlq.<source>`` — in one transaction, so
the caller is told "accepted" only once the event is durable, and nothing received is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from hub.domain.clock import Clock
from hub.errors import ValidationFailed
from hub.schemas import topics
from hub.schemas.envelope import Envelope, parse_event
from hub.streams.dlq import dead_letter
from hub.streams.log import Append, Appended
from hub.streams.sqlite_log import SqliteLog


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one submitted message."""

    accepted: bool
    event_id: str | None = None
    episode_id: str | None = None
    errors: tuple[tuple[str, str], ...] = ()
    stored_at: Appended | None = None

    @property
    def reason(self) -> str:
        return "; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in self.errors)


def _prepare(raw: bytes, received: str) -> tuple[Envelope, bytes]:
    """Validate one message; returns the event and the bytes to store.

    A valid message is stored exactly as received. Only when the sender left out
    ``receivedtime`` is it filled in, and the message re-encoded with it.
    """
    if b'"receivedtime"' in raw:
        return parse_event(raw), raw
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed([("", f"not valid JSON: {exc.msg} at position {exc.pos}")]) from None
    if not isinstance(obj, dict):
        raise ValidationFailed([("", "a canonical event must be a JSON object")])
    obj["receivedtime"] = received
    return parse_event(obj), orjson.dumps(obj)


class Ingestor:
    """Validates canonical events and appends them durably."""

    def __init__(self, log: SqliteLog, clock: Clock) -> None:
        self.log = log
        self.clock = clock

    def submit(self, source: str, messages: Sequence[bytes], *,
               connection: str | None = None, replay_of: str | None = None) -> list[Outcome]:
        """Validate and store a batch in one transaction; one Outcome per message, in order."""
        now = self.clock.now()
        received = now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        appends: list[Append] = []
        outcomes: list[Outcome] = []
        for raw in messages:
            try:
                event, body = _prepare(raw, received)
            except ValidationFailed as exc:
                appends.append(dead_letter(source, raw, exc.errors, now, connection=connection,
                                           replay_of=replay_of))
                outcomes.append(Outcome(False, errors=tuple(exc.errors)))
                continue
            appends.append(Append(topics.EVENTS, event.episode_id, body))
            outcomes.append(Outcome(True, event.id, event.episode_id))
        stored = self.log.append(appends) if appends else []
        return [
            Outcome(o.accepted, o.event_id, o.episode_id, o.errors, at)
            for o, at in zip(outcomes, stored, strict=True)
        ]

    def submit_events(self, events: Sequence[Envelope]) -> list[Appended]:
        """Append already-built canonical events (adapters, the demo feed)."""
        return self.log.append(
            [Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events]
        )
