"""The hub's one error shape, for every refusal of the API:

    {"detail": "<what happened, in words>", "errors": [{"field": "<where>", "rule": "<rule broken>"}]}

It replaces FastAPI's default validation answer, which echoes the whole input (and so any
personnummer in it): a field is named by its location and the rule it breaks, never by its
value. When the store refuses a write the answer is 503 with ``Retry-After``: nothing was kept,
send it again later (as MLLP answers AR)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import LogError, TransportError
from hub.streams.door import Refused, redact

logger = logging.getLogger(__name__)


class ErrorItem(BaseModel):
    """One broken rule: where, and which rule — never the value."""

    field: str = Field(description="Where: path, query or body location, CSV row and column, XML element.",
                       examples=["row 2: unit"])
    rule: str = Field(description="The rule the value breaks.", examples=["not a valid HSA-id"])
    element: str | None = Field(default=None, description="XML element (Prator).")
    line: int | None = Field(default=None, description="Line in the XML document (Prator).")


class ErrorBody(BaseModel):
    """What the hub answers for every 4xx and 5xx."""

    detail: str = Field(examples=["the message breaks the contract"])
    errors: list[ErrorItem] = Field(default_factory=list)


def body(detail: str, errors: Sequence[tuple[str, str]] = (), **extra: Any) -> dict[str, Any]:
    items = [{"field": redact(loc), "rule": redact(msg), **extra} for loc, msg in errors]
    return {"detail": detail, "errors": items}


def error(status: int, detail: str, errors: Sequence[tuple[str, str]] = (), *,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(detail, errors), status_code=status, headers=headers)


_DETAIL = {400: "bad request", 401: "not authenticated", 403: "not allowed", 404: "not found",
           405: "method not allowed", 409: "conflict", 410: "gone", 413: "the request body is too large",
           415: "unsupported content type", 422: "the request breaks a rule", 429: "too many requests",
           503: "unavailable; send it again later"}


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc)


def install(app: FastAPI, on_refused: Callable[[Request, int], None] | None = None) -> None:
    """Register the hub's handlers on ``app``; ``on_refused`` audits a refusal at the door."""

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            msg = str(err.get("msg", "not valid")).removeprefix("Value error, ")
            if err.get("type") == "json_invalid":
                msg = "not valid JSON"
            errors.append((_location(err.get("loc", ())), msg))
        return error(422, "the request breaks a rule", errors)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if on_refused is not None and exc.status_code in (403, 404, 413, 415):
            on_refused(request, exc.status_code)
        detail = exc.detail
        if isinstance(detail, list):
            items = [{"field": redact(str(d.get("field", ""))), "rule": redact(str(d.get("rule", d.get("msg", "")))),
                      **{k: d[k] for k in ("element", "line") if k in d}} for d in detail]
            return JSONResponse({"detail": _DETAIL.get(exc.status_code, "refused"), "errors": items},
                                status_code=exc.status_code, headers=dict(exc.headers) if exc.headers else None)
        text = detail if isinstance(detail, str) and detail else _DETAIL.get(exc.status_code, "refused")
        return error(exc.status_code, text, headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> JSONResponse:
        return error(exc.status, _DETAIL.get(exc.status, "refused"), exc.errors)

    @app.exception_handler(TransportError)
    def unavailable(request: Request, exc: TransportError) -> JSONResponse:
        # The durable store did not take the write: nothing was accepted; send again.
        retry = max(1, round(exc.retry_after or 1))
        return error(503, str(exc), headers={"Retry-After": str(retry)})

    @app.exception_handler(LogError)
    def log_error(request: Request, exc: LogError) -> JSONResponse:
        logger.warning("store refused a request: %s", type(exc).__name__)
        return error(503, "the store is not available; send it again later", headers={"Retry-After": "1"})

    @app.exception_handler(sqlite3.Error)
    def store_error(request: Request, exc: sqlite3.Error) -> JSONResponse:
        # disk full, I/O error, the lock not had in time: nothing was stored
        logger.warning("store refused a request: %s", type(exc).__name__)
        return error(503, "the store is not available; send it again later", headers={"Retry-After": "1"})

    @app.exception_handler(OSError)
    def os_error(request: Request, exc: OSError) -> JSONResponse:
        logger.warning("store refused a request: %s", type(exc).__name__)
        return error(503, "the store is not available; send it again later", headers={"Retry-After": "1"})


def _doc(status: int, text: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text, "content": {"application/json": {"example": example}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc(401, "No credential, or one the hub does not accept (one text for every case).",
              body("not authenticated: send 'Authorization: Bearer <API key or token>'")),
    403: _doc(403, "The principal's role or huvudman may not do this.", body("this role may not do this")),
    404: _doc(404, "Not found, or not one the caller may see (the same answer).", body("episode not found")),
    413: _doc(413, "The body is larger than the configured limit.", body("the request body is too large")),
    415: _doc(415, "A content type this endpoint does not take.", body("unsupported content type")),
    422: _doc(422, "The request breaks a rule: field and rule, never the value.",
              body("the request breaks a rule", [("query.limit", "Input should be less than or equal to 1000")])),
    429: _doc(429, "Too many failed authentications from this client; see Retry-After.",
              body("too many failed authentications; try again later")),
    503: _doc(503, "The store refused the write; nothing was kept. Send again after Retry-After.",
              body("the hub could not store the message; send it again later")),
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of an operation."""
    return {c: RESPONSES[c] for c in codes}
