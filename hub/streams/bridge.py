"""The bridge made visible: how deliveries stand per target system and receiving unit, and a
monitor that raises an alert when a delivery stays pending past ``bridge.stuck_after_s`` or a
target's circuit breaker is open — and resolves it when the delivery moves on or the circuit
closes. The alerts are events on ``svu.alerts`` (rules ``delivery_stuck`` and
``circuit_open``), so they reach the alert list, the metrics and the notifications like any
other, and a replay keeps them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.domain.clock import Clock
from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import AlertRaised, AlertResolved
from hub.streams.log import Append
from hub.streams.sqlite_log import SqliteLog

log = logging.getLogger(__name__)

STUCK = "delivery_stuck"
CIRCUIT = "circuit_open"
SOURCE = "/hub/bridge"
STATUSES = ("pending", "delivered", "acknowledged", "failed", "dead_lettered")


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def pending_since(sqlite: SqliteLog, rows: list[dict[str, Any]]) -> dict[str, dt.datetime]:
    """When each pending delivery (re)entered its queue: the hub's clock at the append of its
    latest request record — not the event time, which for replayed history lies far back.
    One query per receiver topic, not per delivery."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        topic = topics.deliveries(str(row["system"]), str(row["receiver"]))
        wanted.setdefault(topic, set()).add(str(row["delivery_id"]))
    found: dict[str, dt.datetime] = {}
    for topic, ids in wanted.items():
        for r in sqlite.query(
                "SELECT r.ts_ms AS ts, r.value AS value FROM records r JOIN topics t ON t.id = r.topic_id "
                "WHERE t.name = ? AND instr(r.value, ?) > 0", (topic, b'"se.svu.delivery_requested.')):
            value = r["value"]
            data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode()
            delivery_id = str(orjson.loads(data).get("data", {}).get("delivery_id"))
            if delivery_id in ids:
                at = dt.datetime.fromtimestamp(int(str(r["ts"])) / 1000, dt.UTC)
                if delivery_id not in found or at > found[delivery_id]:
                    found[delivery_id] = at
    return {str(row["delivery_id"]): found.get(str(row["delivery_id"])) or _parse(str(row["requested_at"]))
            for row in rows}


def overview(sqlite: SqliteLog, now: dt.datetime, circuits: dict[str, Callable[[], str]],
             receivers: set[str] | None = None) -> list[dict[str, Any]]:
    """Per system, and per receiving unit within it: counts by status and the age of the oldest
    pending delivery in seconds (``receivers`` limits the units, e.g. to one kommun's)."""
    has = _has_table(sqlite)
    rows = sqlite.query("SELECT system, receiver, status, COUNT(*) AS n FROM deliveries "
                        "GROUP BY system, receiver, status") if has else []
    pending = sqlite.query("SELECT * FROM deliveries WHERE status = 'pending'") if has else []
    systems: dict[str, dict[str, Any]] = {name: _empty(name) for name in circuits}
    for r in rows:
        receiver = str(r["receiver"])
        if receivers is not None and receiver not in receivers:
            continue
        system = systems.setdefault(str(r["system"]), _empty(str(r["system"])))
        unit = system["units"].setdefault(receiver, {"receiver": receiver, **dict.fromkeys(STATUSES, 0),
                                                     "oldest_pending_seconds": None})
        status, n = str(r["status"]), int(str(r["n"]))
        for target in (system, unit):
            target[status] = target.get(status, 0) + n
    since = pending_since(sqlite, [p for p in pending if receivers is None or p["receiver"] in receivers])
    for p in pending:
        when = since.get(str(p["delivery_id"]))
        owner = systems.get(str(p["system"]))
        if when is None or owner is None:
            continue
        age = max(0, int((now - when).total_seconds()))
        targets: list[dict[str, Any] | None] = [owner, owner["units"].get(str(p["receiver"]))]
        for target in targets:
            if target is not None and (target["oldest_pending_seconds"] is None
                                       or age > target["oldest_pending_seconds"]):
                target["oldest_pending_seconds"] = age
    out = []
    for name, system in sorted(systems.items()):
        probe = circuits.get(name)
        system["circuit"] = probe() if probe is not None else "unknown"
        system["units"] = sorted(system["units"].values(), key=lambda u: u["receiver"])
        out.append(system)
    return out


def _empty(name: str) -> dict[str, Any]:
    return {"system": name, **dict.fromkeys(STATUSES, 0), "oldest_pending_seconds": None, "units": {}}


def _has_table(sqlite: SqliteLog) -> bool:
    return bool(sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'"))


def stuck(sqlite: SqliteLog, now: dt.datetime, after: dt.timedelta) -> list[tuple[dict[str, Any], dt.datetime]]:
    """Deliveries pending for longer than ``after``, with when they entered their queue."""
    if not _has_table(sqlite):
        return []
    pending = sqlite.query("SELECT * FROM deliveries WHERE status = 'pending' ORDER BY requested_at")
    since = pending_since(sqlite, pending)
    return [(p, since[str(p["delivery_id"])]) for p in pending
            if now - since[str(p["delivery_id"])] >= after]


@dataclass
class BridgeMonitor:
    """Raises and resolves the bridge's own alerts from the deliveries table and the breakers."""

    log: SqliteLog
    clock: Clock
    stuck_after: dt.timedelta
    circuits: dict[str, Callable[[], str]] = field(default_factory=dict)
    checks: int = 0

    def check(self) -> int:
        """One pass; returns how many alert events it appended."""
        self.checks += 1
        now = self.clock.now()
        if not self.log.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"):
            return 0
        open_rows = self.log.query("SELECT alert_id, episode_id, detail FROM alerts "
                                   "WHERE state = 'open' AND rule IN (?, ?)", (STUCK, CIRCUIT))
        open_ids = {str(r["alert_id"]): r for r in open_rows}
        appends: list[Append] = []
        still: set[str] = set()
        for row, since in stuck(self.log, now, self.stuck_after):
            aid = f"{row['episode_id']}:{STUCK}:{row['delivery_id']}"
            still.add(aid)
            if aid in open_ids:
                continue
            due = since + self.stuck_after
            appends.append(self._event(str(row["episode_id"]), AlertRaised(
                alert_id=aid, rule=STUCK, rule_source="bridge.stuck_after_s (kallor.sv.md: Drift)",
                responsible_unit=str(row["receiver"]), deadline=due, raised_at=now, level=1,
                detail=f"{row['system']}: {row['delivery_id']}"), now, aid, "raised"))
        for system, probe in sorted(self.circuits.items()):
            aid = f"bridge-{system}:{CIRCUIT}:{system}"
            if probe() == "open":
                still.add(aid)
                if aid not in open_ids:
                    appends.append(self._event(f"bridge-{system}", AlertRaised(
                        alert_id=aid, rule=CIRCUIT, rule_source="lifecare.breaker_threshold (kallor.sv.md: Drift)",
                        raised_at=now, level=1, detail=system), now, aid, "raised"))
        for aid, row in open_ids.items():
            if aid not in still:
                appends.append(self._event(str(row["episode_id"]), AlertResolved(
                    alert_id=aid, resolved_at=now, resolution="no_longer_required"), now, aid, "resolved"))
        if appends:
            self.log.append(appends)
        return len(appends)

    def _event(self, episode_id: str, payload: AlertRaised | AlertResolved, now: dt.datetime,
               aid: str, what: str) -> Append:
        ev = new_event(payload, episode_id=episode_id, source=SOURCE,
                       source_message_id=f"{aid}:{what}:{_iso(now)}", time=now, received_at=now, trusted=True)
        return Append(topics.ALERTS, episode_id, ev.to_json())

    async def run(self, stop: asyncio.Event, *, every: float = 5.0) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # the monitor must never stop the hub
                log.exception("bridge monitor check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


def breaker_state(breaker: Any) -> Callable[[], str]:
    """A probe of a transport's circuit breaker (``opened_at`` set and within its cooldown)."""
    import time

    def probe() -> str:
        opened = getattr(breaker, "opened_at", None)
        if opened is not None and time.monotonic() - opened < breaker.cooldown:
            return "open"
        return "closed"

    return probe
