"""ASGI middleware at the door: a body size limit answered 413 before the body is read whole,
and security headers on every answer (CSP without inline script, no framing, no sniffing, no
referrer; ``Cache-Control: no-store`` on everything but the static assets)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import orjson

from hub.api.errors import body

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
App = Callable[[Scope, Receive, Send], Any]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
_STATIC = ("/dashboard/static/", "/docs/static/")


class TooLarge(Exception):
    """The body grew past the limit while it was read."""


class SecurityHeaders:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(_STATIC)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"cache-control",) or static]
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """413 for a body over ``limit`` bytes: at once from Content-Length, or as soon as the
    streamed body passes it. ``on_refused(scope, reason)`` audits and counts."""

    def __init__(self, app: App, limit: int, on_refused: Callable[[Scope, str], None] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.on_refused = on_refused
        self.refused = 0

    async def _too_large(self, scope: Scope, send: Send) -> None:
        self.refused += 1
        if self.on_refused is not None:
            with contextlib.suppress(Exception):  # the refusal stands even if it cannot be recorded
                self.on_refused(scope, f"body over {self.limit} bytes")
        payload = orjson.dumps(body("the request body is too large",
                                    [("body", f"at most {self.limit} bytes")]))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await self._too_large(scope, send)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message: Message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except TooLarge:
            if not started:
                await self._too_large(scope, send)
