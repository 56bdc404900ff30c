"""HL7 v2 ingest: every received message is stored raw on ``svu.raw.hl7`` whatever happens
next; its canonical events go to ``svu.events`` — or its bytes and reason to ``svu.dlq.hl7`` —
in the same transaction; the ACK is rendered only after that transaction committed. A message
re-sent with the same MSH-10 from the same MSH-3/MSH-4 is acknowledged again but processed once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hub.adapters.hl7 import errors as E
from hub.adapters.hl7.errors import Hl7Error
from hub.adapters.hl7.mapping import Header, Parsed, canonical, header
from hub.adapters.hl7.parse import WardLookup, split
from hub.adapters.hl7.render import ack, should_send
from hub.domain.clock import Clock
from hub.schemas import topics
from hub.streams import otel
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


class Committer(Protocol):
    """Durable group commit: ``GroupCommitter`` (SQLite) or ``KafkaCommitter``. ``work`` gets a
    transaction with ``append``, ``get_state`` and ``put_states``."""

    async def submit(self, work: Callable[[Any], T]) -> T: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """What the durable write did."""

    outcome: str  # accept | error | reject
    duplicate: bool = False


class Hl7Ingest:
    """Parse, store durably, acknowledge."""

    def __init__(self, committer: Committer, lookup: WardLookup, clock: Clock, *,
                 other_events: str = "accept") -> None:
        self.committer = committer
        self.lookup = lookup
        self.clock = clock
        self.other_events = other_events
        self.received = 0
        self.rejected = 0
        self.duplicates = 0
        self.unstored = 0
        self.latency_buckets = dict.fromkeys(LATENCY_BUCKETS, 0)
        self.latency_sum = 0.0
        self.latency_count = 0

    def _observe(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_count += 1
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                self.latency_buckets[bound] += 1

    def _parse(self, raw: bytes, now: dt.datetime) -> tuple[Header | None, Parsed | None, Hl7Error | None]:
        try:
            parsed = canonical(raw, self.lookup, now)
        except Hl7Error as exc:
            try:
                head: Header | None = header(split(raw))
            except Hl7Error:
                head = None
            return head, None, exc
        except Exception as exc:  # a parser bug must not lose the message or the connection
            log.error("HL7 parser failed: %s", type(exc).__name__)
            return None, None, Hl7Error(f"internal error: {type(exc).__name__}", code=E.INTERNAL_ERROR)
        if not parsed.events and self.other_events == "reject":
            error = Hl7Error(f"MSH-9: event '{parsed.header.trigger}' is not handled", segment="MSH",
                             field=9, code=E.UNSUPPORTED_EVENT, reject=True)
            return parsed.header, None, error
        return parsed.header, parsed, None

    async def handle(self, raw: bytes, connection: str) -> bytes | None:
        """One framed message → its ACK (or None when MSH-15 asks for none)."""
        started = time.perf_counter()
        now = self.clock.now()
        self.received += 1
        head, parsed, error = self._parse(raw, now)
        parsed = otel.stamp(parsed)  # the events in the receive span's trace (when tracing is on)
        try:
            stored = await otel.storing(self.committer.submit(lambda tx: self._write(tx, raw, head, parsed, error,
                                                                                     connection, now)))
        except Exception as exc:  # the store refused: nothing is kept, so nothing is accepted
            return self._unstored(head, exc, now)
        self._observe(time.perf_counter() - started)
        if stored.duplicate:
            self.duplicates += 1
        if error is not None:
            self.rejected += 1
        if not should_send(head, stored.outcome):
            return None
        return ack(head, stored.outcome, error=error, now=now)

    def _unstored(self, head: Header | None, exc: Exception, now: dt.datetime) -> bytes | None:
        """AR (CR in enhanced mode): the message was not stored and must be sent again later.
        HL7 v2.5 chapter 2.9.2: AR also covers "system down or internal error"."""
        self.unstored += 1
        log.error("HL7 message not stored (%s); answered AR so that the sender re-sends", type(exc).__name__)
        error = Hl7Error("the hub could not store the message; send it again later", segment="MSH",
                         code=E.INTERNAL_ERROR, reject=True)
        return ack(head, "reject", error=error, now=now) if should_send(head, "reject") else None

    async def reject(self, raw: bytes, connection: str, reason: str) -> bytes | None:
        """Bytes the transport could not frame: stored and dead-lettered, negatively acknowledged."""
        now = self.clock.now()
        self.received += 1
        self.rejected += 1
        error = Hl7Error(reason, segment="MSH", code=E.SEGMENT_SEQUENCE, reject=True)
        try:
            await self.committer.submit(lambda tx: self._write(tx, raw, None, None, error, connection, now))
        except Exception as exc:
            return self._unstored(None, exc, now)
        return ack(None, "reject", error=error, now=now)

    def _write(self, tx: Any, raw: bytes, head: Header | None, parsed: Parsed | None,
               error: Hl7Error | None, connection: str, now: dt.datetime) -> Stored:
        key = head.source_message_id if head and head.control_id else content_key(raw)
        received = now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        tx.append([Append(topics.raw(SOURCE), key, raw,
                          headers=(("received-at", received.encode()), ("connection", connection.encode()),
                                   ("content-type", b"x-application/hl7-v2+er7")))])
        if error is not None:
            tx.append([dead_letter(SOURCE, raw, error.errors, now, connection=connection,
                                   source_message_id=key if head else None)])
            return Stored("reject" if error.reject else "error")
        assert parsed is not None
        if tx.get_state(SEEN, key) is not None:
            return Stored("accept", duplicate=True)
        if parsed.events:
            tx.append([Append(topics.EVENTS, e.episode_id, e.to_json()) for e in parsed.events])
        tx.put_states(SEEN, [(key, b"1")])
        return Stored("accept")

    def replayer(self, log: SqliteLog) -> Any:
        """Re-submits a dead-lettered HL7 message (after a fix) for the ops API, written through
        ``log`` (on Kafka, a ``MirroredLog`` forwards the write to the cluster)."""
        def replay(raw: bytes, original: str) -> Outcome:
            now = self.clock.now()
            head, parsed, error = self._parse(raw, now)
            with log.transaction() as tx:
                stored = self._write(tx, raw, head, parsed, error, f"replay:{original}", now)
            if error is not None:
                return Outcome(False, errors=tuple(error.errors))
            event = parsed.events[0] if parsed and parsed.events else None
            return Outcome(True, event.id if event else None, event.episode_id if event else None,
                           errors=(("", "duplicate"),) if stored.duplicate else ())
        return replay
