"""Inbound endpoints for source systems: Prator XML (``contracts/prator``). A message is
answered 202 only once it is durably in the log; a bad one 422 naming the element and the line,
with its bytes in the dead-letter store."""

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status

from hub.adapters.prator.errors import PratorError
from hub.adapters.prator.mapping import parse
from hub.api.context import ApiContext
from hub.api.security import Authenticator, Principal, require
from hub.schemas import topics
from hub.schemas.envelope import Envelope
from hub.settings import Role
from hub.streams import otel, tracing
from hub.streams.dlq import dead_letter
from hub.streams.log import Append

XML_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/xml": {
    "schema": {"type": "string"}, "example": "<PratorMeddelande xmlns=\"urn:svu-hub:prator:1\">…"}}}}


def in_trace(event: Envelope, request: Request) -> Envelope:
    """The event in the caller's W3C trace (its ``traceparent`` header), when it sent a valid one."""
    parent = otel.current_traceparent() or tracing.valid(request.headers.get("traceparent"))
    return event.model_copy(update={"traceparent": parent}) if parent else event


def router(ctx: ApiContext, auth: Authenticator) -> APIRouter:
    api = APIRouter(prefix="/inbound", tags=["inbound"])
    Who = Annotated[Principal, Depends(auth)]

    @api.post("/prator", status_code=202, openapi_extra=XML_BODY,
              summary="One Prator XML message; 202 once it is durably stored.",
              responses={422: {"description": "The message breaks the contract; the reason names element and line."}})
    async def prator(request: Request, who: Who) -> dict[str, str]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        raw = await request.body()
        now = ctx.clock.now()
        try:
            event = parse(raw, now, source="/prator")
        except PratorError as exc:
            ctx.log.append([dead_letter("prator", raw, exc.errors, now, connection=f"http:{who.name}")])
            detail = [{"element": exc.element, "line": exc.line, "msg": e[1]} for e in exc.errors]
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail) from None
        event = in_trace(event, request)
        (stored,) = ctx.log.append([Append(topics.EVENTS, event.episode_id, event.to_json())])
        if ctx.runtime is not None:
            ctx.runtime.notify()
        return {"event_id": event.id, "episode_id": event.episode_id,
                "stored_at": f"{stored.topic}:{stored.partition}:{stored.offset}",
                "received_at": now.astimezone(dt.UTC).isoformat()}

    return api


def kommun_router(ctx: ApiContext, auth: Authenticator) -> APIRouter:
    """POST /inbound/kommun/{kommunkod}: JSON (one record or a list) or CSV, mapped per kommun."""
    from hub.adapters.kommun.mapping import KommunMapping, csv_records, to_event
    from hub.errors import ValidationFailed

    api = APIRouter(prefix="/inbound", tags=["inbound"])
    Who = Annotated[Principal, Depends(auth)]
    Kod = Annotated[str, Path(pattern=r"^\d{4}$", examples=["2480"])]

    @api.post("/kommun/{kommunkod}", status_code=202, summary="Kvittering, kommunklar or planning answers "
              "from a kommun system (JSON or CSV); 202 once stored, 422 naming the field and row.",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}}})
    async def kommun(kommunkod: Kod, request: Request, who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.MUNICIPALITY)
        if who.kommun_scope() not in (None, kommunkod):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a kommun may only send its own messages")
        mapping = ctx.settings.kommun_mappings.get(kommunkod, KommunMapping())
        raw = await request.body()
        now = ctx.clock.now()
        try:
            if request.headers.get("content-type", "").startswith("text/csv"):
                records = csv_records(raw, mapping)
                where = "row {n}: "
            else:
                body = orjson.loads(raw)
                records = body if isinstance(body, list) else [body]
                where = "record {n}: " if isinstance(body, list) else ""
            events = [to_event(r, mapping, kommunkod, now, where=where.format(n=n))
                      for n, r in enumerate(records, 1)]
        except (ValidationFailed, orjson.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            errors = exc.errors if isinstance(exc, ValidationFailed) else [("", f"not valid input: {exc}")]
            ctx.log.append([dead_letter(f"kommun-{kommunkod}", raw, errors, now, connection=f"http:{who.name}")])
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                detail=[{"field": loc, "msg": msg} for loc, msg in errors]) from None
        events = [in_trace(e, request) for e in events]
        stored = ctx.log.append([Append(topics.EVENTS, e.episode_id, e.to_json()) for e in events])
        if ctx.runtime is not None:
            ctx.runtime.notify()
        return {"accepted": len(stored), "event_ids": [e.id for e in events]}

    return api


_LIFECARE_FIELDS = {"type": "eventType", "time": "eventTime", "episodeid": "episodeId",
                    "sourcemessageid": "messageId", "data": "content", "": "eventType"}
"""Envelope attribute → the LifeCare message's field, so errors name what the sender sent."""


def lifecare_router(ctx: ApiContext, auth: Authenticator) -> APIRouter:
    """POST /inbound/lifecare: LifeCare's replies and messages (contracts/lifecare)."""
    from pydantic import ValidationError

    from hub.adapters.lifecare.contract import LifeCareMessage
    from hub.errors import ValidationFailed
    from hub.schemas.envelope import parse_event, validation_errors

    api = APIRouter(prefix="/inbound", tags=["inbound"])
    Who = Annotated[Principal, Depends(auth)]

    @api.post("/lifecare", status_code=202, summary="A LifeCare message; 202 once stored, 422 naming the field.")
    async def lifecare(message: dict[str, Any], who: Who, request: Request) -> dict[str, str]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        raw = orjson.dumps(message)
        now = ctx.clock.now()
        try:
            m = LifeCareMessage.model_validate(message)
            event = parse_event({"specversion": "1.0", "id": f"lifecare:{m.messageId}", "source": "/lifecare",
                                 "type": m.eventType, "time": m.eventTime.isoformat(), "episodeid": m.episodeId,
                                 "sourcemessageid": m.messageId, "receivedtime": now.isoformat(),
                                 "data": m.content})
        except ValidationError as exc:
            errors = validation_errors(exc)
        except ValidationFailed as exc:
            errors = [(_LIFECARE_FIELDS.get(loc.split(".")[0], "content") + loc.removeprefix(loc.split(".")[0]), msg)
                      for loc, msg in exc.errors]
        else:
            event = in_trace(event, request)
            (stored,) = ctx.log.append([Append(topics.EVENTS, event.episode_id, event.to_json())])
            if ctx.runtime is not None:
                ctx.runtime.notify()
            return {"event_id": event.id, "stored_at": f"{stored.topic}:{stored.partition}:{stored.offset}"}
        ctx.log.append([dead_letter("lifecare", raw, errors, now, connection=f"http:{who.name}")])
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"field": loc, "msg": msg} for loc, msg in errors])

    return api
