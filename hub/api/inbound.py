"""Inbound endpoints for source systems: Prator XML (``contracts/prator``), LifeCare JSON
(``contracts/lifecare``) and the kommuner's JSON or CSV. Each passes the inbound door
(``hub.streams.door``): the principal's huvudman, the content type (415) and size (413, in the
middleware), parse (422 naming field and rule, bytes dead-lettered), the claims against the unit
directory and the hub's own facts (403 / 404), then the durable append — 202 only once stored,
503 with Retry-After when the store refuses."""

import codecs
import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import ValidationError

from hub.adapters.kommun.mapping import KommunMapping, csv_records, to_event
from hub.adapters.lifecare.contract import LifeCareMessage
from hub.adapters.prator.errors import PratorError
from hub.adapters.prator.mapping import parse as parse_prator
from hub.api.context import ApiContext
from hub.api.errors import responses
from hub.api.security import Authenticator, Principal, require
from hub.errors import ValidationFailed
from hub.schemas.envelope import Envelope, parse_event, validation_errors
from hub.schemas.geography import is_known_kommunkod
from hub.settings import Role
from hub.streams import otel, tracing
from hub.streams.door import Door, Refused, Sender

XML_TYPES = ("application/xml", "text/xml")
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)
ACCEPTED: dict[int | str, dict[str, Any]] = {202: {"content": {"application/json": {"example": {
    "event_id": "prator:PR-1", "episode_id": "VLL-2026-000042", "stored_at": "svu.events:1:17",
    "received_at": "2026-03-02T08:30:00+00:00"}}}}}
KOMMUN_EXAMPLE = {"type": "kvittering", "message_id": "K-1", "episode_id": "VLL-2026-000042",
                  "unit": "SE2120002411-SOC", "time": "2026-03-02T09:05:00+01:00",
                  "acknowledged_message": "VLL-2026-000042-N1"}
LIFECARE_EXAMPLE = {"messageId": "LC-1", "messageType": "message_acknowledged", "episodeId": "VLL-2026-000042",
                    "eventType": "se.svu.message_acknowledged.v1", "eventTime": "2026-03-02T09:05:00+01:00",
                    "content": {"message_id": "VLL-2026-000042-N1", "unit": "SE2120002411-SOC",
                                "acknowledged_at": "2026-03-02T09:05:00+01:00"}}


def in_trace(event: Envelope, request: Request) -> Envelope:
    """The event in the caller's W3C trace (its ``traceparent`` header), when it sent a valid one."""
    parent = otel.current_traceparent() or tracing.valid(request.headers.get("traceparent"))
    return event.model_copy(update={"traceparent": parent}) if parent else event


def content_type(request: Request, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    """The media type (one of ``allowed``) and declared charset, or 415."""
    header = request.headers.get("content-type", "")
    media, _, params = header.partition(";")
    media = media.strip().lower()
    if media not in allowed:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            detail=f"send one of: {', '.join(allowed)}")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="unknown charset") from None
    return media, charset


def _utf8(raw: bytes, charset: str | None) -> bytes:
    """The body as UTF-8, decoded by its declared charset."""
    if charset is None or codecs.lookup(charset).name == "utf-8":
        return raw
    try:
        return raw.decode(charset).encode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([("", f"not valid {charset}")]) from None


def sender_of(who: Principal, *, huvudman: str | None = None) -> Sender:
    return Sender(who.name, who.role.value, huvudman or who.huvudman, f"http:{who.name}", who.units, who.client)


def _stored_at(door_result: Any) -> str:
    at = door_result.stored[0]
    return f"{at.topic}:{at.partition}:{at.offset}"


def router(ctx: ApiContext, auth: Authenticator, door: Door) -> APIRouter:
    api = APIRouter(prefix="/inbound", tags=["inbound"])
    Who = Annotated[Principal, Depends(auth)]
    Kod = Annotated[str, Path(pattern=r"^[0-9]{4}$", examples=["2480"], description="Kommunkod: four digits.")]

    @api.post("/prator", status_code=202, summary="One Prator XML message; 202 once it is durably stored.",
              openapi_extra={"requestBody": {"required": True, "content": {t: {
                  "schema": {"type": "string"}, "example": "<PratorMeddelande xmlns=\"urn:svu-hub:prator:1\">…"}
                  for t in XML_TYPES}}},
              responses={**ACCEPTED, **responses(401, 403, 413, 415, 422, 503)})
    async def prator(request: Request, who: Who) -> dict[str, str]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        content_type(request, XML_TYPES)
        raw = await request.body()
        where: dict[str, Any] = {}

        def parse(data: bytes, now: dt.datetime) -> list[tuple[str, Envelope]]:
            try:
                return [("", in_trace(parse_prator(data, now, source="/prator"), request))]
            except PratorError as exc:
                where.update(element=exc.element, line=exc.line)
                raise

        try:
            result = door.admit(sender_of(who), "prator", raw, parse, endpoint="POST /inbound/prator")
        except Refused as exc:
            if exc.status == 422 and where:
                detail = [{"field": loc, "rule": msg, **where} for loc, msg in exc.errors]
                raise HTTPException(422, detail=detail) from None
            raise
        event = result.events[0]
        now = ctx.clock.now()
        if ctx.runtime is not None:
            ctx.runtime.notify()
        return {"event_id": event.id, "episode_id": event.episode_id, "stored_at": _stored_at(result),
                "received_at": now.astimezone(dt.UTC).isoformat()}

    @api.post("/kommun/{kommunkod}", status_code=202, summary="Kvittering, kommunklar or planning answers "
              "from a kommun system (JSON or CSV); 202 once stored, 422 naming the field and row.",
              description="A kommun sends only in the name of its own units and only about episodes it is "
              "part of; an episode it is not part of answers 404, like one that does not exist.",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array",
                                                                                   "items": {"type": "object"}}]},
                                       "example": KOMMUN_EXAMPLE},
                  "text/csv": {"schema": {"type": "string"},
                               "example": "type,message_id,episode_id,unit,time,acknowledged_message\n"
                                          "kvittering,K-1,VLL-2026-000042,SE2120002411-SOC,"
                                          "2026-03-02T09:05:00+01:00,VLL-2026-000042-N1\n"}}}},
              responses={202: {"content": {"application/json": {"example": {
                  "accepted": 1, "event_ids": ["kommun-2480:K-1"]}}}}, **responses(401, 403, 404, 413, 415, 422, 503)})
    async def kommun(kommunkod: Kod, request: Request, who: Who) -> dict[str, Any]:
        require(who, Role.OPS_ADMIN, Role.MUNICIPALITY)
        if who.kommun_scope() not in (None, kommunkod):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a kommun may only send its own messages")
        if not is_known_kommunkod(kommunkod):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such kommun")
        media, charset = content_type(request, (*JSON_TYPES, *CSV_TYPES))
        mapping = ctx.settings.kommun_mappings.get(kommunkod, KommunMapping())
        raw = await request.body()
        result = door.admit(sender_of(who, huvudman=f"kommun:{kommunkod}"), f"kommun-{kommunkod}", raw,
                            kommun_parser(mapping, kommunkod, csv=media in CSV_TYPES, charset=charset,
                                          request=request),
                            endpoint="POST /inbound/kommun/{kommunkod}")
        if ctx.runtime is not None:
            ctx.runtime.notify()
        return {"accepted": len(result.stored), "event_ids": [e.id for e in result.events]}

    @api.post("/lifecare", status_code=202, summary="A LifeCare message; 202 once stored, 422 naming the field.",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": LifeCareMessage.model_json_schema(), "example": LIFECARE_EXAMPLE}}}},
              responses={202: {"content": {"application/json": {"example": {
                  "event_id": "lifecare:LC-1", "stored_at": "svu.events:2:8"}}}},
                  **responses(401, 403, 413, 415, 422, 503)})
    async def lifecare(request: Request, who: Who) -> dict[str, str]:
        require(who, Role.OPS_ADMIN, Role.REGION)
        _, charset = content_type(request, JSON_TYPES)
        raw = await request.body()
        result = door.admit(sender_of(who), "lifecare", raw, lifecare_parser(charset, request),
                            endpoint="POST /inbound/lifecare")
        if ctx.runtime is not None:
            ctx.runtime.notify()
        return {"event_id": result.events[0].id, "stored_at": _stored_at(result)}

    return api


def kommun_parser(mapping: KommunMapping, kommunkod: str, *, csv: bool, charset: str | None = None,
                  request: Request | None = None) -> Any:
    """Bytes of a kommun's JSON or CSV → its events, each with its row or record."""
    def parse(raw: bytes, now: dt.datetime) -> list[tuple[str, Envelope]]:
        data = _utf8(raw, charset)
        if csv:
            records, where = csv_records(data, mapping), "row {n}: "
        else:
            try:
                body = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise ValidationFailed([("", "not valid JSON (UTF-8, integers within 64 bits, "
                                         "nesting within 1024 levels)")]) from None
            if not isinstance(body, dict | list):
                raise ValidationFailed([("", "a JSON object or a list of objects")])
            records = body if isinstance(body, list) else [body]
            where = "record {n}: " if isinstance(body, list) else ""
            for n, r in enumerate(records, 1):
                if not isinstance(r, dict):
                    raise ValidationFailed([(where.format(n=n).rstrip(": "), "must be a JSON object")])
        out = []
        for n, r in enumerate(records, 1):
            event = to_event(r, mapping, kommunkod, now, where=where.format(n=n))
            out.append((where.format(n=n), in_trace(event, request) if request is not None else event))
        return out
    return parse


_LIFECARE_FIELDS = {"type": "eventType", "time": "eventTime", "episodeid": "episodeId",
                    "sourcemessageid": "messageId", "data": "content", "": "eventType"}
"""Envelope attribute → the LifeCare message's field, so errors name what the sender sent."""


def lifecare_parser(charset: str | None, request: Request | None = None) -> Any:
    def parse(raw: bytes, now: dt.datetime) -> list[tuple[str, Envelope]]:
        try:
            body = orjson.loads(_utf8(raw, charset))
        except orjson.JSONDecodeError:
            raise ValidationFailed([("", "not valid JSON (UTF-8, integers within 64 bits, "
                                     "nesting within 1024 levels)")]) from None
        if not isinstance(body, dict):
            raise ValidationFailed([("", "a LifeCare message is a JSON object")])
        try:
            m = LifeCareMessage.model_validate(body)
        except ValidationError as exc:
            raise ValidationFailed(validation_errors(exc)) from None
        try:
            event = parse_event({"specversion": "1.0", "id": f"lifecare:{m.messageId}", "source": "/lifecare",
                                 "type": m.eventType, "time": m.eventTime.isoformat(), "episodeid": m.episodeId,
                                 "sourcemessageid": m.messageId, "receivedtime": now.isoformat(),
                                 "data": m.content})
        except ValidationFailed as exc:
            raise ValidationFailed([(_LIFECARE_FIELDS.get(loc.split(".")[0], "content")
                                     + loc.removeprefix(loc.split(".")[0]), msg) for loc, msg in exc.errors]) from None
        return [("", in_trace(event, request) if request is not None else event)]
    return parse
