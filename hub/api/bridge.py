"""The bridge to Prator and LifeCare: per target system and receiving unit how deliveries stand
(pending, delivered, acknowledged, dead-lettered), the age of the oldest pending one and the
circuit state; the deliveries themselves; resending one delivery with its same idempotency key;
and the metrics of it all (``svu_hub_deliveries``, ``svu_hub_delivery_oldest_pending_seconds``,
``svu_hub_deliveries_stuck``, ``svu_hub_delivery_circuit_open`` — labels: system and status only).
"""


import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel

from hub.api import examples
from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.schemas import topics
from hub.schemas.envelope import new_event
from hub.schemas.operations import DeliveryStatus, DeliveryStatusChanged
from hub.settings import Role
from hub.streams import bridge
from hub.streams.delivery import RESEND_SOURCE
from hub.streams.log import Append

DELIVERY_ID = Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$",
                   description="The delivery's id (source event id and receiver).")


class UnitCounts(BaseModel):
    receiver: str
    pending: int = 0
    delivered: int = 0
    acknowledged: int = 0
    failed: int = 0
    dead_lettered: int = 0
    oldest_pending_seconds: int | None = None


class SystemCounts(UnitCounts):
    system: str
    receiver: str = "*"
    circuit: Literal["open", "closed", "unknown"]
    units: list[UnitCounts]


class Bridge(BaseModel):
    stuck_after_seconds: int
    systems: list[SystemCounts]


class Delivery(BaseModel):
    delivery_id: str
    episode_id: str
    receiver: str
    system: str
    message_type: str
    idempotency_key: str
    status: str
    requested_at: str
    updated_at: str
    detail: str | None = None
    handover: int = 0


class Resent(BaseModel):
    delivery_id: str
    idempotency_key: str
    status: str


def _kommun_units(access: Access, who: Principal) -> set[str] | None:
    """A kommun sees the bridge of its own units only; others every unit."""
    if who.role is not Role.MUNICIPALITY:
        return None
    return set(access.own_units(who) or ())


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog, access: Access) -> APIRouter:
    api = APIRouter(prefix="/bridge", tags=["bridge"])
    Who = Annotated[Principal, Depends(auth)]
    if not any(isinstance(c, BridgeCollector) for c in ctx.collectors):
        ctx.collectors.append(BridgeCollector(ctx))

    @api.get("", responses=examples.ok(examples.BRIDGE),
                            response_model=Bridge, summary="Per system and unit: how deliveries stand (aggregates).")
    def overview(who: Who) -> dict[str, Any]:
        systems = bridge.overview(ctx.log, ctx.clock.now(), ctx.circuits, _kommun_units(access, who))
        return {"stuck_after_seconds": int(ctx.settings.bridge.stuck_after_s), "systems": systems}

    @api.get("/deliveries", responses=examples.ok(examples.DELIVERIES), response_model=list[Delivery],
             summary="Deliveries, oldest pending first (episode ids: audit-logged).")
    def deliveries(
        who: Who,
        system: Annotated[str | None, Query(pattern=r"^[a-z]+$")] = None,
        receiver: Annotated[str | None, Query(max_length=40)] = None,
        status_: Annotated[Literal["pending", "delivered", "acknowledged", "failed", "dead_lettered"] | None,
                           Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        where, params = [], []
        for column, value in (("system", system), ("receiver", receiver), ("status", status_)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = access.episode_clause(who)
        if clause is not None:  # a region: the deliveries of its own hospitals' episodes
            where.append(clause[0])
            params.extend(clause[1])
        sql = "SELECT * FROM deliveries" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608
        rows = ctx.log.query(sql + " ORDER BY status != 'pending', requested_at LIMIT ?", (*params, limit))
        audit.record(who, endpoint="GET /bridge/deliveries", episode_id=None, outcome="read",
                     episode_ids=sorted({str(r["episode_id"]) for r in rows}))
        return rows

    @api.post("/deliveries/{delivery_id}/resend", response_model=Resent,
              responses={**examples.ok(examples.RESENT), 404: {"description": "No such delivery."},
                         409: {"description": "Not on the log."}},
              summary="Send one delivery again, with its same idempotency key.")
    def resend(delivery_id: Annotated[str, DELIVERY_ID], who: Who) -> Resent:
        require(who, Role.OPS_ADMIN)
        rows = ctx.log.query("SELECT * FROM deliveries WHERE delivery_id = ?", (delivery_id,))
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="delivery not found")
        row = rows[0]
        topic = topics.deliveries(str(row["system"]), str(row["receiver"]))
        found = ctx.log.query(
            "SELECT r.value AS value FROM records r JOIN topics t ON t.id = r.topic_id "
            "WHERE t.name = ? AND r.key = ? AND instr(r.value, ?) > 0 ORDER BY r.offset",
            (topic, str(row["episode_id"]), f'"delivery_id":"{delivery_id}"'.encode()))
        request: bytes | None = None
        for r in found:
            value = r["value"]
            data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode()
            if orjson.loads(data).get("type") == "se.svu.delivery_requested.v1":
                request = data
                break
        if request is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the delivery's request is no longer on the log")
        now = ctx.clock.now()
        change = DeliveryStatusChanged(delivery_id=delivery_id, status=DeliveryStatus.PENDING, at=now,
                                       detail=f"omskickad av {who.name}"[:500])
        ev = new_event(change, episode_id=str(row["episode_id"]), source=RESEND_SOURCE,
                       source_message_id=f"{delivery_id}:resend:{now.isoformat()}", time=now, received_at=now,
                       trusted=True)
        # the status first, then the same request again: the worker sends it with the same key
        ctx.log.append([Append(topic, str(row["episode_id"]), ev.to_json()),
                        Append(topic, str(row["episode_id"]), request)])
        if ctx.runtime is not None:
            ctx.runtime.notify()
        return Resent(delivery_id=delivery_id, idempotency_key=str(row["idempotency_key"]), status="pending")

    return api


class BridgeCollector(Collector):
    """Deliveries by system and status, oldest pending age, open stuck alerts, open circuits."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        systems = bridge.overview(self.ctx.log, self.ctx.clock.now(), self.ctx.circuits)
        counts = GaugeMetricFamily("svu_hub_deliveries", "Deliveries by target system and status.",
                                   labels=["system", "status"])
        oldest = GaugeMetricFamily("svu_hub_delivery_oldest_pending_seconds",
                                   "Age of the oldest pending delivery per target system.", labels=["system"])
        circuit = GaugeMetricFamily("svu_hub_delivery_circuit_open",
                                    "1 while the target system's circuit breaker is open.", labels=["system"])
        for s in systems:
            for name in bridge.STATUSES:
                counts.add_metric([s["system"], name], float(s[name]))
            oldest.add_metric([s["system"]], float(s["oldest_pending_seconds"] or 0))
            circuit.add_metric([s["system"]], 1.0 if s["circuit"] == "open" else 0.0)
        yield counts
        yield oldest
        yield circuit
        stuck = GaugeMetricFamily("svu_hub_deliveries_stuck",
                                  "Deliveries pending past bridge.stuck_after_s, per target system.",
                                  labels=["system"])
        after = dt.timedelta(seconds=self.ctx.settings.bridge.stuck_after_s)
        per: dict[str, int] = {s["system"]: 0 for s in systems}
        for row, _ in bridge.stuck(self.ctx.log, self.ctx.clock.now(), after):
            per[str(row["system"])] = per.get(str(row["system"]), 0) + 1
        for name, n in sorted(per.items()):
            stuck.add_metric([name], float(n))
        yield stuck
