"""A stand-in for LifeCare's message endpoint, for the demo (and the tests that drive the
demo's parts): real HTTP on loopback, every request remembered with its idempotency key, 201
for a new key and 409 for one it already has (LifeCare's answer to a repeat)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeLifeCare:
    """What the fake has received: one (unit, idempotency key) per request, in order."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0

    @property
    def keys(self) -> list[str]:
        return [key for _, key in self.requests]

    def app(self) -> Starlette:
        async def message(request: Request) -> Response:
            await request.body()
            key = request.headers.get("idempotency-key", "")
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": "unavailable"}, status_code=503)
            repeat = key in self.keys
            self.requests.append((request.path_params["unit"], key))
            return JSONResponse({"messageId": key}, status_code=409 if repeat else 201)

        return Starlette(routes=[Route("/units/{unit}/messages", message, methods=["POST"])])


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


@contextlib.asynccontextmanager
async def serving(fake: FakeLifeCare, port: int = 0) -> AsyncIterator[int]:
    """Serve ``fake`` on 127.0.0.1 (port 0: any free one) and yield the port."""
    server = _Quiet(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            await task
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task
