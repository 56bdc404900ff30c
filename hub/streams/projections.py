"""Projections: tables the API queries (alerts, deliveries, dead letters), kept by the runtime
from log topics. Each batch's rows and the projection's new position are written in one
transaction, and a replay rebuilds them from offset 0 — operators' actions included, since those
are events on the log too (alert acknowledged/assigned on ``svu.alerts``, dead-letter actions on
``svu.ops``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import orjson

from hub.schemas import topics
from hub.streams.log import Record


class Projection(Protocol):
    """A table kept from topics (``INPUTS``, plus every topic starting with a ``PREFIXES`` entry)."""

    NAME: ClassVar[str]
    INPUTS: ClassVar[tuple[str, ...]]
    PREFIXES: ClassVar[tuple[str, ...]]

    def create(self, db: sqlite3.Connection) -> None: ...

    def clear(self, db: sqlite3.Connection) -> None: ...

    def apply(self, db: sqlite3.Connection, records: Sequence[Record]) -> None: ...


class AlertsProjection:
    """``alerts``: one row per alert with its state, level, times, acknowledgement and assignee."""

    NAME: ClassVar[str] = "alerts-table"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.ALERTS,)
    PREFIXES: ClassVar[tuple[str, ...]] = ()

    def create(self, db: sqlite3.Connection) -> None:
        db.execute("""CREATE TABLE IF NOT EXISTS alerts (
            alert_id TEXT PRIMARY KEY, episode_id TEXT NOT NULL, rule TEXT NOT NULL,
            rule_source TEXT, responsible_unit TEXT, municipality TEXT, deadline TEXT,
            level INTEGER NOT NULL, state TEXT NOT NULL, raised_at TEXT NOT NULL,
            escalated_at TEXT, resolved_at TEXT, resolution TEXT, lateness_seconds INTEGER,
            detail TEXT, acknowledged_by TEXT, acknowledged_at TEXT, assignee TEXT)""")
        db.execute("CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, raised_at)")
        db.execute("CREATE INDEX IF NOT EXISTS alerts_kommun ON alerts (municipality, state)")

    def clear(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM alerts")

    def apply(self, db: sqlite3.Connection, records: Sequence[Record]) -> None:
        for record in records:
            event = orjson.loads(record.value)
            kind, d = event["type"].split(".")[2], event["data"]
            if kind == "alert_raised":
                db.execute(
                    "INSERT INTO alerts (alert_id, episode_id, rule, rule_source, responsible_unit, "
                    "municipality, deadline, level, state, raised_at, detail) "
                    "VALUES (?,?,?,?,?,?,?,?, 'open', ?, ?) ON CONFLICT (alert_id) DO NOTHING",
                    (d["alert_id"], event["episodeid"], d["rule"], d.get("rule_source"),
                     d.get("responsible_unit"), d.get("municipality"), d.get("deadline"),
                     d.get("level", 1), d["raised_at"], d.get("detail")))
            elif kind == "alert_escalated":
                db.execute("UPDATE alerts SET level = MAX(level, ?), escalated_at = ? WHERE alert_id = ?",
                           (d["level"], d["escalated_at"], d["alert_id"]))
            elif kind == "alert_resolved":
                db.execute("UPDATE alerts SET state = 'resolved', resolved_at = ?, resolution = ?, "
                           "lateness_seconds = ? WHERE alert_id = ?",
                           (d["resolved_at"], d["resolution"], d.get("lateness_seconds"), d["alert_id"]))
            elif kind == "alert_acknowledged":
                db.execute("UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_id = ?",
                           (d["by"], d["at"], d["alert_id"]))
            elif kind == "alert_assigned":
                db.execute("UPDATE alerts SET assignee = ? WHERE alert_id = ?",
                           (d["assignee"], d["alert_id"]))


class DeliveriesProjection:
    """``deliveries``: one row per delivery with its state per receiver."""

    NAME: ClassVar[str] = "deliveries-table"
    INPUTS: ClassVar[tuple[str, ...]] = ()
    PREFIXES: ClassVar[tuple[str, ...]] = ("svu.deliveries.",)

    def create(self, db: sqlite3.Connection) -> None:
        db.execute("""CREATE TABLE IF NOT EXISTS deliveries (
            delivery_id TEXT PRIMARY KEY, episode_id TEXT NOT NULL, receiver TEXT NOT NULL,
            system TEXT NOT NULL, message_type TEXT NOT NULL, idempotency_key TEXT NOT NULL,
            status TEXT NOT NULL, requested_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            detail TEXT, handover INTEGER NOT NULL DEFAULT 0)""")
        db.execute("CREATE INDEX IF NOT EXISTS deliveries_episode ON deliveries (episode_id)")

    def clear(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM deliveries")

    def apply(self, db: sqlite3.Connection, records: Sequence[Record]) -> None:
        for record in records:
            event = orjson.loads(record.value)
            kind, d = event["type"].split(".")[2], event["data"]
            if kind == "delivery_requested":
                db.execute(
                    "INSERT INTO deliveries (delivery_id, episode_id, receiver, system, message_type, "
                    "idempotency_key, status, requested_at, updated_at, handover) "
                    "VALUES (?,?,?,?,?,?, 'pending', ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING",
                    (d["delivery_id"], event["episodeid"], d["receiver"], d["system"], d["message_type"],
                     d["idempotency_key"], event["time"], event["time"], int(d.get("handover", False))))
            elif kind == "delivery_status_changed":
                # an acknowledged delivery stays acknowledged whatever status arrives after it
                db.execute("UPDATE deliveries SET status = ?, updated_at = ?, detail = ? "
                           "WHERE delivery_id = ? AND (status != 'acknowledged' OR ? = 'acknowledged')",
                           (d["status"], d["at"], d.get("detail"), d["delivery_id"], d["status"]))


class DeadLettersProjection:
    """``dead_letters``: one row per dead letter (id = topic/partition/offset), its reason and
    whether it was replayed or discarded."""

    NAME: ClassVar[str] = "dead-letters-table"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.OPS,)
    PREFIXES: ClassVar[tuple[str, ...]] = ("svu.dlq.",)

    def create(self, db: sqlite3.Connection) -> None:
        db.execute("""CREATE TABLE IF NOT EXISTS dead_letters (
            id TEXT PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL,
            offset INTEGER NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL,
            received_at TEXT NOT NULL, replay_of TEXT, status TEXT NOT NULL DEFAULT 'open',
            handled_by TEXT, handled_at TEXT, handled_reason TEXT, outcome TEXT, new_reference TEXT)""")
        db.execute("CREATE INDEX IF NOT EXISTS dead_letters_status ON dead_letters (status, received_at)")

    def clear(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM dead_letters")

    def apply(self, db: sqlite3.Connection, records: Sequence[Record]) -> None:
        for record in records:
            if record.topic == topics.OPS:
                self._action(db, orjson.loads(record.value))
                continue
            letter: dict[str, Any] = orjson.loads(record.value)
            db.execute(
                "INSERT INTO dead_letters (id, topic, partition, offset, key, source, reason, "
                "received_at, replay_of) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING",
                (dead_letter_id(record), record.topic, record.partition, record.offset, record.key,
                 letter["source"], letter["reason"], letter["received_at"], letter.get("replay_of")))

    @staticmethod
    def _action(db: sqlite3.Connection, action: dict[str, Any]) -> None:
        status = {"dead_letter_replayed": "replayed", "dead_letter_discarded": "discarded"}[action["action"]]
        db.execute("UPDATE dead_letters SET status = ?, handled_by = ?, handled_at = ?, handled_reason = ?, "
                   "outcome = ?, new_reference = ? WHERE id = ?",
                   (status, action["by"], action["at"], action.get("reason"), action.get("outcome"),
                    action.get("new_reference"), action["subject"]))


def dead_letter_id(record: Record) -> str:
    """A dead letter's id: where it is on the log (safe in URLs: no patient data)."""
    return f"{record.topic}:{record.partition}:{record.offset}"


PROJECTIONS: tuple[type[AlertsProjection] | type[DeliveriesProjection] | type[DeadLettersProjection], ...] = (
    AlertsProjection, DeliveriesProjection, DeadLettersProjection)
