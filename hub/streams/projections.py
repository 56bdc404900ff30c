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


_REGION_UNIT_FIELDS = ("ward", "to_ward", "sender")


def _is_region_source(source: str) -> bool:
    """Events the slutenvård (or the hub's operator) sent: never a kommun's own messages, never
    the hub's own derived events."""
    return not source.startswith(("/kommun/", "/hub/"))


class EpisodePartiesProjection:
    """``episode_parties``: the facts the hub itself established about who takes part in an
    episode, from which the trust boundary decides reads and writes (architecture.md, "The trust
    boundary"). One row per (episode, basis, value):

    - ``routed``: a unit the hub routed one of the episode's meddelanden to (``svu.deliveries.*``);
    - ``folkbokford``: the patient's folkbokföringskommun as the slutenvård's data gives it;
    - ``ward``: a slutenvård unit the region's data names (ward, transfer target, sender);
    - ``patient``: the patient identifier (normal form) the region's data gives.

    Nothing a kommun sends adds a row: only region sources and the hub's own routing do."""

    NAME: ClassVar[str] = "episode-parties-table"
    INPUTS: ClassVar[tuple[str, ...]] = (topics.EVENTS,)
    PREFIXES: ClassVar[tuple[str, ...]] = ("svu.deliveries.",)

    def create(self, db: sqlite3.Connection) -> None:
        db.execute("""CREATE TABLE IF NOT EXISTS episode_parties (
            episode_id TEXT NOT NULL, basis TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (episode_id, basis, value)) WITHOUT ROWID""")
        db.execute("CREATE INDEX IF NOT EXISTS episode_parties_value ON episode_parties (basis, value)")

    def clear(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM episode_parties")

    def apply(self, db: sqlite3.Connection, records: Sequence[Record]) -> None:
        rows: list[tuple[str, str, str]] = []
        for record in records:
            try:
                event = orjson.loads(record.value)
                episode, data = str(event["episodeid"]), event["data"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if not isinstance(data, dict):
                continue
            if record.topic != topics.EVENTS:
                if event.get("type", "").endswith(".delivery_requested.v1") and data.get("receiver"):
                    rows.append((episode, "routed", str(data["receiver"])))
                continue
            if not _is_region_source(str(event.get("source", ""))):
                continue
            rows.extend(region_facts(episode, event.get("type", ""), data, db))
        if rows:
            db.executemany("INSERT OR IGNORE INTO episode_parties VALUES (?,?,?)", rows)


def patient_value(patient: Any) -> str | None:
    """The identifier of a canonical patient (object or identifier) in normal form."""
    ident = patient.get("id", patient) if isinstance(patient, dict) else patient
    if isinstance(ident, dict):
        value = ident.get("value")
        return str(value) if value else None
    return str(ident) if ident else None


def region_facts(episode: str, kind: str, data: dict[str, Any],
                 db: sqlite3.Connection | None = None) -> list[tuple[str, str, str]]:
    """The parties a region event establishes (see ``EpisodePartiesProjection``)."""
    rows: list[tuple[str, str, str]] = []
    patient = data.get("patient")
    if kind.endswith(".patient_records_merged.v1"):
        # A40: the region replaces the merged identity by the surviving one.
        merged = patient_value(data.get("merged"))
        if db is not None and merged:
            db.execute("DELETE FROM episode_parties WHERE episode_id = ? AND basis = 'patient' AND value = ?",
                       (episode, merged))
        survivor = patient_value(patient)
        if survivor:
            rows.append((episode, "patient", survivor))
        return rows
    if isinstance(patient, dict):
        value = patient_value(patient)
        if value:
            rows.append((episode, "patient", value))
        if patient.get("municipality"):
            rows.append((episode, "folkbokford", str(patient["municipality"])))
    for field in _REGION_UNIT_FIELDS:
        if isinstance(data.get(field), str):
            rows.append((episode, "ward", data[field]))
    if kind.endswith(".patient_registered.v1") and isinstance(data.get("unit"), str):
        rows.append((episode, "ward", data["unit"]))
    return rows


def dead_letter_id(record: Record) -> str:
    """A dead letter's id: where it is on the log (safe in URLs: no patient data)."""
    return f"{record.topic}:{record.partition}:{record.offset}"


PROJECTIONS: tuple[type[AlertsProjection] | type[DeliveriesProjection] | type[DeadLettersProjection]
                   | type[EpisodePartiesProjection], ...] = (
    AlertsProjection, DeliveriesProjection, DeadLettersProjection, EpisodePartiesProjection)
