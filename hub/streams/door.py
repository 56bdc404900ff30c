"""The inbound door: the one way in for every message a sender hands the hub — HTTP (Prator,
LifeCare, the kommuner), the file inboxes (the folder's kommun is the sender) and the same on
``hub api`` over Kafka. Every path does the same steps, in this order:

    sender (a principal bound to a huvudman) → parse → authorize the claims → durable append

- **parse**: bytes the adapter cannot read are refused 422 naming field and rule, and their bytes
  are dead-lettered (``svu.dlq.<source>``); an empty batch is refused too.
- **authorize** (architecture.md, "The trust boundary"): a kommun speaks only in the name of
  units whose huvudman is that kommun, only about episodes it is part of, and never states the
  patient, the folkbokföringskommun, the ward or the category (403, or 404 for an episode it is
  not part of — the same answer as for one that does not exist). A region message naming another
  patient than the episode already has is an identity conflict: 422, dead letter and a
  data-quality alert, never merged. Refusals at the door are audited, never dead-lettered.
- **append**: the events go to the log in one transaction; when the store refuses, the caller
  is told to send again later (``Unavailable``, HTTP 503 with Retry-After) and nothing is kept.

``identity_conflicts`` and ``Facts`` are plain, so that the HL7 path applies the same rule.
Nothing here quotes an input value: reasons name the field and the rule (``redact`` is the last
guard for texts that come from libraries).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.domain.clock import Clock
from hub.domain.directory import UnitDirectory
from hub.errors import HubError, LogError, TransportError, ValidationFailed
from hub.schemas import topics
from hub.schemas.envelope import Envelope, new_event
from hub.schemas.operations import AlertRaised
from hub.streams.audit import AuditTrail
from hub.streams.dlq import dead_letter
from hub.streams.log import Append, Appended
from hub.streams.projections import patient_value

logger = logging.getLogger(__name__)

_PERSONAL = re.compile(r"(?<![\dA-Za-z])(\d{6}|\d{8})[-+]?[\d*]{4}(?!\d)|(?<!\d)\d{8}-?[A-Z]{2,3}\d{1,2}(?!\d)")
_QUOTED = re.compile(r"'[^']{0,200}'|\"[^\"]{0,200}\"")
_FORBIDDEN_FOR_KOMMUN = ("patient", "ward", "to_ward", "from_ward", "needs", "care_type", "category")
"""Payload fields only the slutenvård states: who the patient is, where folkbokförd, the ward,
the category (needs). A kommun's message that carries one is refused."""


def redact(text: str) -> str:
    """A reason with every quoted value and every identifier-shaped run removed."""
    text = _QUOTED.sub("(value not shown)", text)
    return _PERSONAL.sub("(identifier not shown)", text)


def redact_errors(errors: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(redact(loc), redact(msg)) for loc, msg in errors]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who hands the hub a message: the principal's name and role, the huvudman it acts for
    (``region:<länskod>`` / ``kommun:<kommunkod>``; None for the hub's own operator), optionally
    narrowed to units, and the connection (``http:<name>``, ``file:<name>``)."""

    name: str
    role: str
    huvudman: str | None
    connection: str
    units: frozenset[str] | None = None
    client: str | None = None

    @property
    def kommun(self) -> str | None:
        return self.huvudman.split(":", 1)[1] if self.huvudman and self.huvudman.startswith("kommun:") else None


class Refused(HubError):
    """The door refused a message: ``status`` (403, 404, 413, 415, 422), the errors by field and
    rule, and whether its bytes went to the dead-letter store."""

    def __init__(self, status: int, errors: list[tuple[str, str]], *, dead_lettered: bool = False) -> None:
        self.status = status
        self.errors = redact_errors(errors)
        self.dead_lettered = dead_lettered
        super().__init__("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in self.errors))


class Unavailable(TransportError):
    """The store refused the write: nothing was kept; send it again later."""


class Query(Protocol):
    def __call__(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]: ...


@dataclass(frozen=True, slots=True)
class Parties:
    """What the hub itself established about one episode (``EpisodePartiesProjection``)."""

    routed: frozenset[str] = frozenset()
    folkbokford: frozenset[str] = frozenset()
    wards: frozenset[str] = frozenset()
    patients: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return bool(self.routed or self.folkbokford or self.wards or self.patients)


class Facts:
    """Look-ups over the ``episode_parties`` table."""

    def __init__(self, query: Query) -> None:
        self._query = query

    @classmethod
    def of_connection(cls, db: sqlite3.Connection) -> Facts:
        def query(sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
            cur = db.execute(sql, tuple(params))
            names = [c[0] for c in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return cls(query)

    def parties(self, episode_ids: Iterable[str]) -> dict[str, Parties]:
        ids = sorted(set(episode_ids))
        found: dict[str, dict[str, set[str]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            try:
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT episode_id, basis, value FROM episode_parties WHERE episode_id IN ({marks})"  # noqa: S608
                rows = self._query(sql, chunk)
            except sqlite3.OperationalError:  # no projection here: the hub has established nothing
                rows = []
            for r in rows:
                found.setdefault(str(r["episode_id"]), {}).setdefault(str(r["basis"]), set()).add(str(r["value"]))
        return {e: Parties(frozenset(found.get(e, {}).get("routed", ())),
                           frozenset(found.get(e, {}).get("folkbokford", ())),
                           frozenset(found.get(e, {}).get("ward", ())),
                           frozenset(found.get(e, {}).get("patient", ()))) for e in ids}


def kommun_units(directory: UnitDirectory | None, kommun: str) -> frozenset[str]:
    """HSA-ids of the units whose huvudman is ``kommun``."""
    if directory is None:
        return frozenset()
    return frozenset(u.hsa_id for u in directory.units() if u.huvudman == kommun)


def kommun_is_part(parties: Parties, kommun: str, units_of_kommun: frozenset[str],
                   narrowed: frozenset[str] | None = None) -> bool:
    """A kommun is part of an episode when the hub routed one of its meddelanden to a unit of that
    kommun, or the slutenvård gives that kommun as the patient's folkbokföringskommun. A principal
    narrowed to units is part only through routing to one of them."""
    if narrowed is not None:
        return bool(parties.routed & narrowed & units_of_kommun)
    return bool(parties.routed & units_of_kommun) or kommun in parties.folkbokford


def identity_conflicts(events: Sequence[Envelope], facts: Facts) -> list[tuple[int, Envelope]]:
    """Region events that name another patient than the episode already has (or than an earlier
    event of the same batch): (position, event) for each. Never merged: refuse them."""
    claimed: dict[int, tuple[str, str]] = {}
    for n, event in enumerate(events):
        data = event.data.model_dump(mode="json")
        if event.type.endswith(".patient_records_merged.v1"):
            continue  # the region's own merge (A40) changes the identity on purpose
        value = patient_value(data.get("patient")) if isinstance(data.get("patient"), dict) else None
        if value:
            claimed[n] = (event.episode_id, value)
    if not claimed:
        return []
    known = facts.parties({episode for episode, _ in claimed.values()})
    seen: dict[str, str] = {}
    out = []
    for n, (episode, value) in sorted(claimed.items()):
        have = known[episode].patients
        first = seen.setdefault(episode, value)
        if (have and value not in have) or first != value:
            out.append((n, events[n]))
    return out


def identity_alert(event: Envelope, now: dt.datetime) -> Append:
    """A data-quality alert for an identity conflict, on ``svu.alerts`` (no patient data)."""
    alert = AlertRaised(alert_id=f"identity-conflict:{event.episode_id}:{event.source_message_id}"[:200],
                        rule="identity_conflict", rule_source="hub: trust boundary (architecture.md)",
                        level=2, raised_at=now,
                        detail="a message names another patient than the episode has; it was not merged")
    ev = new_event(alert, episode_id=event.episode_id, source="/hub/door",
                   source_message_id=f"{event.source_message_id}:identity-conflict", time=now, received_at=now)
    return Append(topics.ALERTS, event.episode_id, ev.to_json())


def _payload(event: Envelope) -> dict[str, Any]:
    return event.data.model_dump(mode="json")


Parser = Callable[[bytes, dt.datetime], list[tuple[str, Envelope]]]
"""Bytes → events, each with where it sits in the input (``"row 2: "``, ``""``); raises
ValidationFailed naming field and rule."""


@dataclass
class Admitted:
    """A message the hub took: its events and where they are stored."""

    events: list[Envelope]
    stored: list[Appended] = field(default_factory=list)


class Door:
    """parse → authorize → durable append, for every inbound path."""

    def __init__(self, log: Any, clock: Clock, directory: Callable[[], UnitDirectory | None],
                 audit: AuditTrail, *, dead_letter_prefix: int = 2 * 1024 * 1024) -> None:
        self.log = log
        self.prefix = dead_letter_prefix
        self.clock = clock
        self.directory = directory
        self.audit = audit
        self.refused = 0

    def facts(self) -> Facts:
        return Facts(self.log.query)

    def admit(self, sender: Sender, source: str, raw: bytes, parse: Parser, *, endpoint: str,
              decorate: Callable[[Envelope], Envelope] | None = None) -> Admitted:
        """Take one message (which may hold several records) whole, or refuse it whole."""
        now = self.clock.now()
        try:
            parsed = parse(raw, now)
            if not parsed:
                raise ValidationFailed([("", "no records: the message must hold at least one")])
        except ValidationFailed as exc:
            self._dead_letter(source, raw, redact_errors(exc.errors), now, sender)
            self._refusal(sender, endpoint, None, "content", exc.errors)
            raise Refused(422, exc.errors, dead_lettered=True) from None
        events = [decorate(e) if decorate else e for _, e in parsed]
        if sender.kommun is not None:
            self._authorize_kommun(sender, parsed, endpoint)
        conflicts = identity_conflicts(events, self.facts())
        if conflicts:
            where = [(f"{parsed[n][0]}patient.id", "another patient than the episode already has "
                      "(identity conflict): not merged; correct it at the source") for n, _ in conflicts]
            self._store([*[identity_alert(e, now) for _, e in conflicts]], sender,
                        extra=dead_letter(source, raw[:self.prefix], where, now, connection=sender.connection))
            self._refusal(sender, endpoint, conflicts[0][1].episode_id, "identity conflict", where)
            raise Refused(422, where, dead_lettered=True)
        stored = self._store([Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events], sender)
        return Admitted(events, stored)

    def _authorize_kommun(self, sender: Sender, parsed: list[tuple[str, Envelope]], endpoint: str) -> None:
        kommun = sender.kommun
        assert kommun is not None
        directory = self.directory()
        own = kommun_units(directory, kommun)
        for where, event in parsed:
            data = _payload(event)
            stated = [f for f in _FORBIDDEN_FOR_KOMMUN if data.get(f) not in (None, [], {})]
            if stated:
                errors = [(f"{where}{stated[0]}", "a kommun may not state the patient, ward or category")]
                self._refusal(sender, endpoint, event.episode_id, "forbidden field", errors)
                raise Refused(403, errors)
            if data.get("municipality") not in (None, kommun):
                errors = [(f"{where}municipality", "a kommun sends only in its own name")]
                self._refusal(sender, endpoint, event.episode_id, "another kommun", errors)
                raise Refused(403, errors)
            unit = data.get("unit")
            if not isinstance(unit, str) or unit not in own or (sender.units is not None and unit not in sender.units):
                errors = [(f"{where}unit", "not a unit of the sending kommun in the unit directory")]
                self._refusal(sender, endpoint, event.episode_id, "another kommun's unit", errors)
                raise Refused(403, errors)
        known = self.facts().parties({e.episode_id for _, e in parsed})
        for where, event in parsed:
            if not kommun_is_part(known[event.episode_id], kommun, own, sender.units):
                # 404 for both: a kommun must not learn whether another kommun's episode exists.
                errors = [(f"{where}episode_id", "no such episode for this sender")]
                self._refusal(sender, endpoint, event.episode_id, "not part of the episode", errors)
                raise Refused(404, errors)

    def _store(self, appends: list[Append], sender: Sender, *, extra: Append | None = None) -> list[Appended]:
        try:
            stored: list[Appended] = self.log.append([*appends, *([extra] if extra else [])])
        except TransportError:
            raise  # the backbone's own refusal (Kafka): already says to send again, with its Retry-After
        except (LogError, sqlite3.Error, OSError) as exc:
            logger.warning("inbound message from %s not stored: %s", sender.connection[:60], type(exc).__name__)
            raise Unavailable("the hub could not store the message; send it again later", retry_after=1.0) from None
        return stored[:len(appends)]

    def _dead_letter(self, source: str, raw: bytes, errors: list[tuple[str, str]], now: dt.datetime,
                     sender: Sender) -> None:
        self._store([dead_letter(source, raw[:self.prefix], errors, now, connection=sender.connection)], sender)

    def _refusal(self, sender: Sender, endpoint: str, episode_id: str | None, what: str,
                 errors: Sequence[tuple[str, str]]) -> None:
        self.refused += 1
        rule = redact(errors[0][1])[:200] if errors else what
        try:
            self.audit.write(principal=sender.name, role=sender.role, huvudman=sender.huvudman,
                             endpoint=endpoint, outcome="refused", episode_id=episode_id,
                             patient_keys=(), client=sender.client, detail=f"{what}: {rule}")
        except (LogError, TransportError, sqlite3.Error, OSError):
            raise Unavailable("the hub could not record the refusal; send it again later",
                              retry_after=1.0) from None


def hl7_identity_conflict(tx: Any, events: Sequence[Envelope], raw: bytes, now: dt.datetime,
                          connection: str, key: str) -> Any:
    """The HL7 path's identity check, inside its write transaction: for a conflict, the dead
    letter and the data-quality alert are appended and the Hl7Error for the AE is returned
    (PID-3). Needs the transaction's local database (embedded, or the API role's mirror); the
    MLLP adapter on Kafka has none and relies on the workers' data-quality rules."""
    from hub.adapters.hl7 import errors as hl7_errors

    db = getattr(tx, "db", None)
    if not events or not isinstance(db, sqlite3.Connection):
        return None
    conflicts = identity_conflicts(events, Facts.of_connection(db))
    if not conflicts:
        return None
    error = hl7_errors.Hl7Error("another patient than the episode already has (identity conflict): not merged",
                                segment="PID", field=3, code=hl7_errors.UNKNOWN_KEY)
    tx.append([dead_letter("hl7", raw, [("PID-3", error.text)], now, connection=connection,
                           source_message_id=key), *[identity_alert(e, now) for _, e in conflicts]])
    return error
