"""HL7 v2 ingest: every received message is stored raw on ``svu.raw.hl7`` whatever happens
next; in the same transaction its canonical events go to ``svu.events``, or it is held (see
:mod:`hub.streams.held`), or its bytes and reason go to ``svu.dlq.hl7``; the ACK is rendered
only after that transaction committed.

Identity (HL7 v2.5.1 chapter 2.10.1): a message is MSH-3/MSH-4/MSH-10 *and* its content. The
same id with the same content (MSH-7 aside, which some engines restamp) is a re-send: answered
again, processed once. The same id with other content — a counter that reset or wrapped — is a
new message: processed under ``<id>#<digest>`` and counted as a "control id reused" finding.

ACK policy per sender (settings ``[hl7] ack_policy`` and ``[hl7.senders]``): ``accept`` answers
AA (CA) for everything stored whose MSH can be read, holding what the hub cannot place; AE/AR
only for what the sender must fix. ``strict`` answers AE for the held reasons too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.config import Hl7Settings, profiles
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import Header, Parsed, canonical, lenient_header
from hub.adapters.hl7.parse import Separators, WardLookup, read_msh
from hub.adapters.hl7.profile import EPISODE_WAITING, REASONS, TRIGGER_UNMAPPED, Profile
from hub.adapters.hl7.render import ack, should_send
from hub.domain.clock import Clock
from hub.schemas import topics
from hub.schemas.envelope import Envelope, new_event
from hub.streams import door, held, otel
from hub.streams.dlq import content_key, dead_letter
from hub.streams.ingest import Outcome
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE = "hl7"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, float("inf"))
"""Seconds from receipt to a durable ACK (histogram buckets of ``svu_hub_mllp_ack_seconds``)."""
SEEN = "hl7-seen"
REUSED = "control_id_reused"


class Committer(Protocol):
    """Durable group commit: ``GroupCommitter`` (SQLite) or ``KafkaCommitter``. ``work`` gets a
    transaction with ``append``, ``get_state`` and ``put_states``."""

    async def submit(self, work: Callable[[Any], T]) -> T: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """What the durable write did."""

    outcome: str  # accept | error | reject
    duplicate: bool = False
    error: Hl7Error | None = None
    held: bool = False


def digest(raw: bytes) -> bytes:
    """Content digest of a message, MSH-7 (date/time of message) left out."""
    body = raw.strip(b"\r\n\x00 \t\x0b")
    first, sep, rest = body.partition(b"\r")
    if len(first) > 3:
        fields = first.split(first[3:4])
        if len(fields) > 6:
            fields[6] = b""
        first = first[3:4].join(fields)
    return hashlib.blake2b(first + sep + rest, digest_size=12).hexdigest().encode()


def _rekey(events: tuple[Envelope, ...], key: str) -> tuple[Envelope, ...]:
    return tuple(new_event(e.data, episode_id=e.episode_id, source=e.source, source_message_id=key, time=e.time,
                           received_at=e.received_at, trusted=True) for e in events)


class Hl7Ingest:
    """Parse, store durably, acknowledge."""

    def __init__(self, committer: Committer, lookup: WardLookup, clock: Clock, *,
                 other_events: str = "accept", settings: Hl7Settings | None = None) -> None:
        self.committer = committer
        self.lookup = lookup
        self.clock = clock
        self.other_events = other_events
        self.profile_for = profiles(settings or Hl7Settings())
        self.received = 0
        self.rejected = 0
        self.duplicates = 0
        self.unstored = 0
        self.held = 0
        self.reused = 0
        self.latency_buckets = dict.fromkeys(LATENCY_BUCKETS, 0)
        self.latency_sum = 0.0
        self.latency_count = 0

    def _observe(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_count += 1
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                self.latency_buckets[bound] += 1

    def profile(self, raw: bytes) -> tuple[Profile, Separators | None]:
        found = read_msh(raw)
        if found is None:
            return self.profile_for("", ""), None
        sep, fields = found
        app = fields[2].split(sep.component, 1)[0] if len(fields) > 2 else ""
        facility = fields[3].split(sep.component, 1)[0] if len(fields) > 3 else ""
        return self.profile_for(app, facility), sep

    def _parse(self, raw: bytes, now: dt.datetime, profile: Profile
               ) -> tuple[Header | None, Parsed | None, Hl7Error | None]:
        try:
            parsed = canonical(raw, self.lookup, now, profile)
        except Hl7Error as exc:
            found = lenient_header(raw)
            return (found[0] if found else None), None, exc
        except Exception as exc:  # a parser bug must not lose the message or the connection
            log.error("HL7 parser failed: %s", type(exc).__name__)
            found = lenient_header(raw)
            return (found[0] if found else None), None, Hl7Error(f"internal error: {type(exc).__name__}",
                                                                  code=E.INTERNAL_ERROR)
        h = parsed.header
        if parsed.holds and parsed.holds[0].reason == TRIGGER_UNMAPPED:
            if self.other_events == "reject":
                return h, None, Hl7Error(f"MSH-9: event '{h.trigger[:3]}' is not handled", segment="MSH",
                                         field=9, code=E.UNSUPPORTED_EVENT, reject=True)
            if profile.ack_policy == "strict":  # stored raw and acknowledged, not held
                return h, Parsed(h, ()), None
        elif parsed.holds and profile.ack_policy == "strict":
            return h, None, Hl7Error.several([x.as_error() for x in parsed.holds])
        return h, parsed, None

    async def handle(self, raw: bytes, connection: str) -> bytes | None:
        """One framed message → its ACK (or None when MSH-15/16 ask for none)."""
        started = time.perf_counter()
        now = self.clock.now()
        self.received += 1
        profile, sep = self.profile(raw)
        head, parsed, error = self._parse(raw, now, profile)
        parsed = otel.stamp(parsed)  # the events in the receive span's trace (when tracing is on)
        try:
            stored = await otel.storing(self.committer.submit(lambda tx: self._write(tx, raw, head, parsed, error,
                                                                                     connection, now)))
        except Exception as exc:  # the store refused: nothing is kept, so nothing is accepted
            return self._unstored(head, sep, exc, now)
        self._observe(time.perf_counter() - started)
        error = stored.error or error
        self.duplicates += stored.duplicate
        self.held += stored.held
        if error is not None:
            self.rejected += 1
        if not should_send(head, stored.outcome):
            return None
        return ack(head, stored.outcome, error=error, now=now, sep=sep, charset=profile.charset)

    def _unstored(self, head: Header | None, sep: Separators | None, exc: Exception,
                  now: dt.datetime) -> bytes | None:
        """AR (CR in enhanced mode): the message was not stored and must be sent again later.
        HL7 v2.5 chapter 2.9.2: AR also covers "system down or internal error"."""
        self.unstored += 1
        log.error("HL7 message not stored (%s); answered AR so that the sender re-sends", type(exc).__name__)
        error = Hl7Error("the hub could not store the message; send it again later", segment="MSH",
                         code=E.INTERNAL_ERROR, reject=True)
        return ack(head, "reject", error=error, now=now, sep=sep) if should_send(head, "reject") else None

    async def reject(self, raw: bytes, connection: str, reason: str) -> bytes | None:
        """Bytes the transport could not frame (or too large): stored and dead-lettered, answered
        AR — with MSA-2 = MSH-10 when the first bytes hold a readable MSH."""
        now = self.clock.now()
        self.received += 1
        self.rejected += 1
        found = lenient_header(raw)
        head, sep = found if found else (None, None)
        error = Hl7Error(reason, segment="MSH", code=E.SEGMENT_SEQUENCE, reject=True)
        try:
            await self.committer.submit(lambda tx: self._write(tx, raw, None, None, error, connection, now))
        except Exception as exc:
            return self._unstored(head, sep, exc, now)
        return ack(head, "reject", error=error, now=now, sep=sep) if should_send(head, "reject") else None

    def _write(self, tx: Any, raw: bytes, head: Header | None, parsed: Parsed | None,
               error: Hl7Error | None, connection: str, now: dt.datetime) -> Stored:
        key = head.source_message_id if head and head.control_id else content_key(raw)
        received = now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        tx.append([Append(topics.raw(SOURCE), key, raw,
                          headers=(("received-at", received.encode()), ("connection", connection.encode()),
                                   ("content-type", b"x-application/hl7-v2+er7")))])
        if error is not None or parsed is None:
            assert error is not None
            tx.append([dead_letter(SOURCE, raw, error.errors, now, connection=connection,
                                   source_message_id=key if head else None)])
            return Stored("reject" if error.reject else "error")
        assert parsed is not None
        mark = digest(raw)
        seen = tx.get_state(SEEN, key)
        events = parsed.events
        if seen is not None:
            if seen in (mark, b"1"):
                return Stored("accept", duplicate=True)
            key = f"{key}#{mark[:12].decode()}"
            if tx.get_state(SEEN, key) is not None:
                return Stored("accept", duplicate=True)
            self.reused += 1
            tx.append(held.note(tx, SOURCE, parsed.header.sender, REUSED,
                                "MSH-10: control id reused with other content", now))
            events = _rekey(events, key)
        conflict = door.hl7_identity_conflict(tx, events, raw, now, connection, key)
        if conflict is not None:  # another patient than the episode's: refused, never merged
            return Stored("error", error=conflict)
        tx.put_states(SEEN, [(key, mark)])
        hold = parsed.holds[0] if parsed.holds else None
        if hold is None and held.waiting(tx, SOURCE, parsed.episode):
            reason, subject, text = EPISODE_WAITING, "", REASONS[EPISODE_WAITING]
        elif hold is not None:
            reason, subject, text = hold.reason, hold.subject, hold.text
        else:
            if events:
                tx.append([Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events])
            return Stored("accept")
        tx.append(held.hold(tx, SOURCE, sender=parsed.header.sender, reason=reason, subject=subject, text=text,
                            episode=parsed.episode, key=key, connection=connection, received_at=now, raw=raw,
                            now=now))
        return Stored("accept", held=True)

    def reprocess(self, item: held.HeldMessage, force: bool) -> held.Decision:
        """A held message again, with today's directory (HeldStore's ``Reprocess``)."""
        received = dt.datetime.fromisoformat(item.received_at.replace("Z", "+00:00"))
        profile, _ = self.profile(item.raw)
        try:
            parsed = canonical(item.raw, self.lookup, received, profile, force=force)
        except Hl7Error as exc:
            letter = dead_letter(SOURCE, item.raw, exc.errors, self.clock.now(), connection=item.connection,
                                 source_message_id=item.key)
            return held.Decision(records=(letter,), dead=True)
        if parsed.holds:
            first = parsed.holds[0]
            if force and first.reason == TRIGGER_UNMAPPED:
                return held.Decision()  # the operator releases it: nothing to map
            return held.Decision(hold=(first.reason, first.subject, first.text))
        events = parsed.events if item.key == parsed.header.source_message_id else _rekey(parsed.events, item.key)
        return held.Decision(records=tuple(Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events))

    def replayer(self, log: SqliteLog) -> Any:
        """Re-submits a dead-lettered HL7 message (after a fix) for the ops API, written through
        ``log`` (on Kafka, a ``MirroredLog`` forwards the write to the cluster)."""
        def replay(raw: bytes, original: str) -> Outcome:
            now = self.clock.now()
            profile, _ = self.profile(raw)
            head, parsed, error = self._parse(raw, now, profile)
            with log.transaction() as tx:
                stored = self._write(tx, raw, head, parsed, error, f"replay:{original}", now)
            if error is not None:
                return Outcome(False, errors=tuple(error.errors))
            event = parsed.events[0] if parsed and parsed.events else None
            return Outcome(True, event.id if event else None, event.episode_id if event else None,
                           errors=(("", "duplicate"),) if stored.duplicate else ())
        return replay
