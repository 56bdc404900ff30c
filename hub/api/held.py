"""Held messages: how many, per source, sender and reason (no patient data: wards, triggers
and reasons only), the held messages themselves by arrival, and an operator's release (after a
fix the directory reload did not cover, or to process a message with a soft reason such as a
foreign address as it is)."""

import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from hub.api import examples
from hub.api.audit import AuditLog
from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.settings import Role
from hub.streams.held import HeldStore

log = logging.getLogger(__name__)


class HeldGroup(BaseModel):
    source: str
    sender: str = Field(description="MSH-3|MSH-4 for HL7.")
    reason: str
    subject: str = Field(description="What the reason is about: a ward code, a trigger; no patient data.")
    count: int
    text: str


class HeldRow(BaseModel):
    source: str
    number: int = Field(description="Arrival number within the source.")
    sender: str
    reason: str
    subject: str
    text: str
    episode_id: str | None
    received_at: str


class Release(BaseModel):
    source: str | None = Field(default=None, max_length=50, examples=["hl7"])
    reason: str | None = Field(default=None, max_length=50, examples=["address_foreign"])
    sender: str | None = Field(default=None, max_length=120)
    numbers: list[int] | None = Field(default=None, max_length=1000, description="Only these arrival numbers.")
    force: bool = Field(default=False, description="Process messages held for a soft reason (a foreign "
                                                   "address) as they are.")


class Released(BaseModel):
    released: int
    still_held: int
    dead_lettered: int


class HeldCollector(Collector):
    """``svu_hub_held_messages{source,reason}``: messages held now."""

    def __init__(self, store: HeldStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("svu_hub_held_messages", "Messages held until the hub can place them.",
                                  labels=["source", "reason"])
        totals: dict[tuple[str, str], int] = {}
        for row in self.store.counts():
            key = (row["source"], row["reason"])
            totals[key] = totals.get(key, 0) + row["count"]
        for (source, reason), count in sorted(totals.items()):
            gauge.add_metric([source, reason], count)
        yield gauge


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog | None = None) -> APIRouter:
    api = APIRouter(prefix="/held", tags=["held messages"])
    Who = Annotated[Principal, Depends(auth)]

    def store() -> HeldStore:
        if ctx.held is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="this hub holds no messages (no held store)")
        found: HeldStore = ctx.held
        return found

    @api.get("", responses=examples.ok(examples.HELD),
             response_model=list[HeldGroup],
             summary="Held messages counted per source, sender and reason.")
    def counts(who: Who) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN, Role.REGION, Role.DASHBOARD)
        return store().counts()

    @api.get("/notes", responses=examples.ok(examples.HELD_NOTES), response_model=list[HeldGroup],
             summary="Findings that held nothing (a reused control id), counted per sender.")
    def notes(who: Who) -> list[dict[str, Any]]:
        require(who, Role.OPS_ADMIN, Role.REGION, Role.DASHBOARD)
        return store().notes()

    @api.get("/messages", responses=examples.ok(examples.HELD_MESSAGES), response_model=list[HeldRow],
             summary="Held messages in arrival order.")
    def messages(who: Who, source: Annotated[str | None, Query(max_length=50)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
        # held messages are those the hub could not place, so no care relationship covers them: ops only
        require(who, Role.OPS_ADMIN)
        rows = [{"source": m.source, "number": m.number, "sender": m.sender, "reason": m.reason,
                 "subject": m.subject, "text": m.text, "episode_id": m.episode, "received_at": m.received_at}
                for m in store().items(source)[:limit]]
        if audit is not None:
            audit.record(who, endpoint="GET /held/messages", outcome="read",
                         episode_ids=sorted({str(r["episode_id"]) for r in rows if r["episode_id"]}))
        return rows

    @api.post("/release", responses=examples.ok(examples.RELEASED), response_model=Released,
              summary="Re-process held messages in arrival order.")
    def release(body: Release, who: Who) -> Released:
        require(who, Role.OPS_ADMIN)
        numbers = set(body.numbers) if body.numbers is not None else None

        def chosen(m: Any) -> bool:
            return ((body.reason is None or m.reason == body.reason)
                    and (body.sender is None or m.sender == body.sender)
                    and (numbers is None or m.number in numbers))

        result = store().release(body.source, force=body.force, select=chosen)
        log.warning("held messages released by %s (force=%s): %d released, %d still held",
                    who.role.value, body.force, result.released, result.still_held)
        return Released(released=result.released, still_held=result.still_held, dead_lettered=result.dead_lettered)

    return api
