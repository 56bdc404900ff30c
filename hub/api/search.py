"""Find anything: search by MSH-10, source message id, episode id or personnummer, and the
lineage of one message (raw bytes for ops admins → canonical events → the deliveries they
caused → each receiver's status and kvittering).

A personnummer is accepted only in the request body (never in a URL), is turned into the
hub's keyed patient hash at once and is never logged or echoed. Every episode a search or a
lineage shows is audit-logged before the answer; a search that finds nothing is logged too.
"""


import base64
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field

from hub.api import examples
from hub.api.access import Access
from hub.api.audit import AuditLog
from hub.api.console import PATIENT_ROLES, visible_timeline
from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.domain.episode import patient_key
from hub.domain.readmission import ReadmissionProcessor
from hub.domain.timeline import TimelineProcessor
from hub.errors import HubError
from hub.schemas.identifiers import parse_patient_id
from hub.settings import Role

Kind = Literal["auto", "msh10", "source_message_id", "episode_id", "personnummer"]


class SearchRequest(BaseModel):
    """What to look for. ``auto`` tries episode id, source message id and MSH-10."""

    kind: Kind = "auto"
    value: str = Field(min_length=1, max_length=200, examples=["VLL-2026-000123"])


class Hit(BaseModel):
    episode_id: str
    matched: str = Field(description="episode_id, source_message_id, msh10 or personnummer")
    source_message_ids: list[str] = Field(default_factory=list)


class SearchResult(BaseModel):
    hits: list[Hit]


class LineageEvent(BaseModel):
    id: str
    type: str
    time: str
    source: str


class LineageDelivery(BaseModel):
    delivery_id: str
    receiver: str
    system: str
    message_type: str
    idempotency_key: str
    status: str
    updated_at: str
    detail: str | None = None
    kvittering_at: str | None = None


class Lineage(BaseModel):
    source_message_id: str
    episode_id: str
    raw: dict[str, Any] | None = Field(default=None, description="Ops admins only: where and the bytes.")
    events: list[LineageEvent]
    deliveries: list[LineageDelivery]


MESSAGE_ID = Path(min_length=1, max_length=200, description="The source message id (not patient data).")


def _scan(ctx: ApiContext, kind: Kind, value: str) -> dict[str, Hit]:
    """Episodes whose events match ``value`` as episode id, source message id or MSH-10."""
    hits: dict[str, Hit] = {}
    if kind in ("auto", "episode_id") and ctx.log.get_state(TimelineProcessor.NAME, value) is not None:
        hits[value] = Hit(episode_id=value, matched="episode_id")
    if kind == "episode_id":
        return hits
    for key, raw in ctx.log.scan_states(TimelineProcessor.NAME):
        state = orjson.loads(raw)
        for entry in state["entries"]:
            smid = str(entry["source_message_id"])
            matched = None
            if kind in ("auto", "source_message_id") and (smid == value or smid.split(":")[0] == value):
                matched = "source_message_id"
            elif kind in ("auto", "msh10") and smid.rsplit("|", 1)[-1] == value and "|" in smid:
                matched = "msh10"
            if matched is None:
                continue
            hit = hits.setdefault(key, Hit(episode_id=key, matched=matched))
            if smid not in hit.source_message_ids:
                hit.source_message_ids.append(smid)
    return hits


def router(ctx: ApiContext, auth: Authenticator, audit: AuditLog, access: Access) -> APIRouter:
    api = APIRouter(prefix="/console", tags=["console"])
    Who = Annotated[Principal, Depends(auth)]

    def _by_patient(value: str) -> dict[str, Hit]:
        try:
            patient = parse_patient_id(value)
        except (HubError, ValueError):
            # the rule, never the value
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail="value: not a valid personnummer, samordningsnummer or reservnummer"
                                ) from None
        secret = ctx.settings.engine.patient_key_secret.get_secret_value().encode()
        raw = ctx.log.get_state(ReadmissionProcessor.NAME, patient_key(patient.value, secret))
        if raw is None:
            return {}
        known = ReadmissionProcessor().decode_state(raw)
        return {e: Hit(episode_id=e, matched="personnummer") for e in sorted(known.episodes)}

    @api.post("/search", response_model=SearchResult,
              responses={**examples.ok(examples.SEARCH), 403: {"description": "The role may not see patients."}},
              summary="Find vårdtillfällen by MSH-10, source message id, episode id or personnummer.")
    def search(body: SearchRequest, who: Who) -> SearchResult:
        require(who, *PATIENT_ROLES)
        value = body.value.strip()
        found = _by_patient(value) if body.kind == "personnummer" else _scan(ctx, body.kind, value)
        hits = []
        for episode_id, hit in sorted(found.items()):
            if visible_timeline(ctx, access, who, episode_id) is None:
                continue
            audit.record(who, endpoint=f"POST /console/search ({body.kind})", episode_id=episode_id,
                         outcome="read")
            hits.append(hit)
        if not hits:
            audit.record(who, endpoint=f"POST /console/search ({body.kind})", episode_id=None,
                         outcome="not_found")
        return SearchResult(hits=hits)

    @api.get("/messages/{source_message_id}/lineage", response_model=Lineage,
             responses={**examples.ok(examples.LINEAGE),
                        404: {"description": "No such message, or not one the caller may see."}},
             summary="One message's way through the hub: raw bytes, events, deliveries, kvitteringar.")
    def lineage(source_message_id: Annotated[str, MESSAGE_ID], who: Who) -> Lineage:
        require(who, *PATIENT_ROLES)
        hits = _scan(ctx, "source_message_id", source_message_id)
        episode_id = next(iter(sorted(hits)), None)
        state = visible_timeline(ctx, access, who, episode_id) if episode_id is not None else None
        if episode_id is None or state is None:
            audit.record(who, endpoint="GET /console/messages/{id}/lineage", episode_id=episode_id,
                         outcome="not_found")
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
        audit.record(who, endpoint="GET /console/messages/{id}/lineage", episode_id=episode_id, outcome="read")
        smids = set(hits[episode_id].source_message_ids)
        events = [LineageEvent(id=e["id"], type=e["type"], time=e["time"], source=e["source"])
                  for e in state["entries"] if e["source_message_id"] in smids]
        ids = {e.id for e in events}
        acks = _kvitteringar(state)
        deliveries = []
        for row in ctx.log.query("SELECT * FROM deliveries WHERE episode_id = ? ORDER BY requested_at, receiver",
                                 (episode_id,)):
            if str(row["delivery_id"]).rsplit(":", 1)[0] not in ids:
                continue
            receiver = str(row["receiver"])
            deliveries.append(LineageDelivery(
                delivery_id=str(row["delivery_id"]), receiver=receiver, system=str(row["system"]),
                message_type=str(row["message_type"]), idempotency_key=str(row["idempotency_key"]),
                status=str(row["status"]), updated_at=str(row["updated_at"]),
                detail=str(row["detail"]) if row["detail"] is not None else None,
                kvittering_at=acks.get(receiver)))
        raw = _raw(ctx, source_message_id) if who.role is Role.OPS_ADMIN else None
        return Lineage(source_message_id=source_message_id, episode_id=episode_id, raw=raw,
                       events=events, deliveries=deliveries)

    return api


def _kvitteringar(state: dict[str, Any]) -> dict[str, str]:
    """Receiver HSA-id → the time of its first kvittering in the episode."""
    out: dict[str, str] = {}
    for e in state["entries"]:
        if e["type"].startswith("se.svu.message_acknowledged."):
            unit = e["data"].get("unit")
            if isinstance(unit, str) and unit not in out:
                out[unit] = str(e["data"].get("acknowledged_at") or e["time"])
    return out


def _raw(ctx: ApiContext, source_message_id: str) -> dict[str, Any] | None:
    rows = ctx.log.query(
        "SELECT t.name AS topic, r.partition AS partition, r.offset AS offset, r.value AS value "
        "FROM records r JOIN topics t ON t.id = r.topic_id "
        "WHERE t.name LIKE 'svu.raw.%' AND r.key = ? ORDER BY r.offset LIMIT 1", (source_message_id,))
    if not rows:
        return None
    value = rows[0]["value"]
    data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode()
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"where": f"{rows[0]['topic']}:{rows[0]['partition']}:{rows[0]['offset']}",
            "base64": base64.b64encode(data).decode(), "text": text}
