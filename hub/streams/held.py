"""Held messages, for every source: well formed, durably stored, acknowledged — and not usable
yet (architecture.md "Accept, hold, refuse"): an unknown ward, an unidentified patient, a
foreign address, no visit number.

- A held message is kept with its reason in the log's state (``held``: raw bytes and reason,
  in the same transaction as its raw record), so it survives restarts.
- One data-quality alert per source, sender, reason and subject (the ward code, the trigger) —
  "ward X unknown", not one per message — raised on ``svu.alerts`` when the first message of
  the group is held and resolved when the last one is released. No patient data in either.
- Counted per group (``counts``: the API and the metrics read it).
- Released in arrival order per episode (``release``) when the reason goes away — a directory
  reload, an operator's release — through the source's own ``Reprocess`` function, so that a
  released message gives the same events as if it had been usable on arrival. While an
  episode has a held message, later messages of that episode are held behind it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import AlertRaised, AlertResolved
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog

log = logging.getLogger(__name__)

HELD = "held"
"""State store: ``<source>:<arrival number>`` → the held message (JSON line, then the raw bytes)."""
COUNTS = "held-counts"
"""State store: group key (source, sender, reason, subject) → how many are held, and the alert."""
EPISODES = "held-episodes"
"""State store: ``<source>|<episode>`` → how many messages of the episode are held."""
NOTES = "quality-notes"
"""State store: like COUNTS, for findings that hold nothing (a reused control id)."""
SEQUENCE = "held-sequence"
ALERT_EPISODE = "held"
"""The ``svu.alerts`` key of held-message alerts (they concern a feed, not one episode)."""


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """One held message. ``text`` says why, naming the field, without patient data."""

    source: str
    number: int
    sender: str
    reason: str
    subject: str
    text: str
    episode: str | None
    key: str
    connection: str
    received_at: str
    raw: bytes

    @property
    def state_key(self) -> str:
        return f"{self.source}:{self.number:012d}"

    @property
    def group(self) -> str:
        return group_key(self.source, self.sender, self.reason, self.subject)

    def dump(self) -> bytes:
        meta = {"sender": self.sender, "reason": self.reason, "subject": self.subject, "text": self.text,
                "episode": self.episode, "key": self.key, "connection": self.connection,
                "received_at": self.received_at}
        return orjson.dumps(meta) + b"\n" + self.raw

    @classmethod
    def load(cls, state_key: str, value: bytes) -> HeldMessage:
        head, _, raw = value.partition(b"\n")
        meta = orjson.loads(head)
        source, _, number = state_key.rpartition(":")
        return cls(source, int(number), meta["sender"], meta["reason"], meta["subject"], meta["text"],
                   meta["episode"], meta["key"], meta["connection"], meta["received_at"], raw)


@dataclass(frozen=True, slots=True)
class Decision:
    """What re-processing a held message gave: events to append (released), another hold, or a
    dead letter (the message turned out to be wrong)."""

    records: tuple[Append, ...] = ()
    hold: tuple[str, str, str] | None = None  # reason, subject, text
    dead: bool = False


Reprocess = Callable[[HeldMessage, bool], Decision]
"""(held message, forced by an operator) → Decision; pure apart from reading the directory."""


_UNIT = "\x1f"  # between the parts of a group key: MSH-3|MSH-4 senders hold '|' themselves


_WHERE = {COUNTS: "messages held (see GET /held)",
          NOTES: "messages processed, counted in GET /held/notes"}


def group_key(source: str, sender: str, reason: str, subject: str) -> str:
    return _UNIT.join((source, sender, reason, subject))


def _alert_id(group: str, epoch: int) -> str:
    source, _, reason, _ = group.split(_UNIT)
    digest = hashlib.blake2b(group.encode(), digest_size=6).hexdigest()
    return f"held:{source}:{reason}:{digest}:{epoch}"


def _count(tx: Any, group: str, delta: int, text: str, now: dt.datetime, store: str = COUNTS) -> list[Append]:
    """Change a group's count; raise its alert on 0 → 1, resolve it on 1 → 0 (held groups)."""
    raw = tx.get_state(store, group)
    entry: dict[str, Any] = orjson.loads(raw) if raw else {"count": 0, "epoch": 0, "text": text}
    before = entry["count"]
    entry["count"] = max(0, before + delta)
    out: list[AlertRaised | AlertResolved] = []
    at = now.astimezone(dt.UTC)
    if before == 0 and entry["count"] > 0:
        entry["epoch"] += 1
        entry["text"] = text
        alert = AlertRaised(alert_id=_alert_id(group, entry["epoch"]), rule="data_quality",
                            rule_source=f"held:{group.split(_UNIT, 1)[0]}", raised_at=at,
                            detail=f"{text}: {_WHERE[store]}"[:500])
        out.append(alert)
    elif before > 0 and entry["count"] == 0:
        out.append(AlertResolved(alert_id=_alert_id(group, entry["epoch"]), resolved_at=at,
                                 resolution="no_longer_required"))
    tx.put_states(store, [(group, orjson.dumps(entry))])
    return [Append(topics.ALERTS, ALERT_EPISODE, new_event(
        payload, episode_id=ALERT_EPISODE, source="/svu-hub/held",
        source_message_id=_alert_id(group, entry["epoch"]), time=at, received_at=at).to_json()) for payload in out]


def note(tx: Any, source: str, sender: str, reason: str, text: str, now: dt.datetime) -> list[Append]:
    """A data-quality finding that holds nothing (e.g. a reused control id): counted, alerted once."""
    return _count(tx, group_key(source, sender, reason, ""), 1, text, now, NOTES)


def waiting(tx: Any, source: str, episode: str | None) -> bool:
    """Whether the episode has a held message (a later one must then wait behind it)."""
    return episode is not None and bool(tx.get_state(EPISODES, f"{source}|{episode}"))


def _episode(tx: Any, source: str, episode: str | None, delta: int) -> None:
    if episode is None:
        return
    key = f"{source}|{episode}"
    count = int(tx.get_state(EPISODES, key) or 0) + delta
    tx.put_states(EPISODES, [(key, str(count).encode() if count > 0 else None)])


def hold(tx: Any, source: str, *, sender: str, reason: str, subject: str, text: str, episode: str | None,
         key: str, connection: str, received_at: dt.datetime, raw: bytes, now: dt.datetime) -> list[Append]:
    """Store a held message in ``tx``; returns the alert to append when it opens its group."""
    number = int(tx.get_state(SEQUENCE, source) or 0) + 1
    tx.put_states(SEQUENCE, [(source, str(number).encode())])
    stamp = received_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    item = HeldMessage(source, number, sender, reason, subject, text, episode, key, connection, stamp, raw)
    tx.put_states(HELD, [(item.state_key, item.dump())])
    _episode(tx, source, episode, 1)
    return _count(tx, item.group, 1, text, now)


@dataclass
class Released:
    """What one release pass did."""

    released: int = 0
    still_held: int = 0
    dead_lettered: int = 0


class HeldStore:
    """Lists, counts and releases held messages of an embedded (SQLite) hub."""

    def __init__(self, log: SqliteLog, clock: Callable[[], dt.datetime]) -> None:
        self.log = log
        self.clock = clock
        self.reprocessors: dict[str, Reprocess] = {}

    def items(self, source: str | None = None) -> list[HeldMessage]:
        """Held messages in arrival order (per source)."""
        out = [HeldMessage.load(k, v) for k, v in self.log.scan_states(HELD)]
        return [m for m in out if source is None or m.source == source]

    def counts(self) -> list[dict[str, Any]]:
        """Held messages per source, sender, reason and subject (only groups with any)."""
        return self._groups(COUNTS)

    def _groups(self, store: str) -> list[dict[str, Any]]:
        rows = []
        for group, value in self.log.scan_states(store):
            entry = orjson.loads(value)
            if entry["count"] > 0:
                source, sender, reason, subject = group.split(_UNIT)
                rows.append({"source": source, "sender": sender, "reason": reason, "subject": subject,
                             "count": entry["count"], "text": entry["text"]})
        return rows

    def notes(self) -> list[dict[str, Any]]:
        """Data-quality findings that held nothing (e.g. reused control ids), per group."""
        return self._groups(NOTES)

    def total(self) -> int:
        return sum(r["count"] for r in self.counts())

    def release(self, source: str | None = None, *, force: bool = False,
                select: Callable[[HeldMessage], bool] | None = None) -> Released:
        """Re-process held messages in arrival order; each released one's events are appended
        in one transaction with its removal. An episode whose earlier message stays held keeps
        its later ones too. ``force``: the operator's release (soft reasons give way)."""
        total = Released()
        for _ in range(10):  # messages held behind a released one while this ran: another pass
            one = self._pass(source, force, select)
            total.released += one.released
            total.dead_lettered += one.dead_lettered
            total.still_held = one.still_held
            if not one.released:
                break
        if total.released:
            log.warning("released %d held messages (%d still held)", total.released, total.still_held)
        return total

    def _pass(self, source: str | None, force: bool, select: Callable[[HeldMessage], bool] | None) -> Released:
        result = Released()
        blocked: set[tuple[str, str]] = set()
        for item in self.items(source):
            reprocess = self.reprocessors.get(item.source)
            episode = (item.source, item.episode) if item.episode else None
            chosen = select is None or select(item)
            if reprocess is None or (episode in blocked) or not chosen:
                result.still_held += 1
                if episode is not None:
                    blocked.add(episode)
                continue
            decision = reprocess(item, force)
            now = self.clock()
            with self.log.transaction() as tx:
                if decision.hold is not None:
                    reason, subject, text = decision.hold
                    if (reason, subject) != (item.reason, item.subject):
                        moved = replace(item, reason=reason, subject=subject, text=text)
                        tx.put_states(HELD, [(item.state_key, moved.dump())])
                        tx.append(_count(tx, item.group, -1, item.text, now) + _count(tx, moved.group, 1, text, now))
                    result.still_held += 1
                    if episode is not None:
                        blocked.add(episode)
                    continue
                tx.put_states(HELD, [(item.state_key, None)])
                _episode(tx, item.source, item.episode, -1)
                tx.append([*decision.records, *_count(tx, item.group, -1, item.text, now)])
            if decision.dead:
                result.dead_lettered += 1
            else:
                result.released += 1
        return result

