"""A fake LifeCare message endpoint on loopback (real HTTP): it keeps what it received by
idempotency key, answers 409 for a key it already has, and can be told to fail or be slow."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Behaviour:
    fail_with: list[int] = field(default_factory=list)  # status codes to answer first, in order
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass
class FakeLifeCare:
    behaviour: Behaviour = field(default_factory=Behaviour)
    received: dict[str, dict] = field(default_factory=dict)
    requests: int = 0

    def app(self) -> Starlette:
        async def message(request: Request) -> Response:
            self.requests += 1
            if self.behaviour.delay_s:
                await asyncio.sleep(self.behaviour.delay_s)
            if self.behaviour.fail_with:
                code = self.behaviour.fail_with.pop(0)
                headers = {"Retry-After": self.behaviour.retry_after} if self.behaviour.retry_after else {}
                return JSONResponse({"error": "fake"}, status_code=code, headers=headers)
            key = request.headers["idempotency-key"]
            if key in self.received:
                return JSONResponse({"messageId": key}, status_code=409)
            body = await request.body()
            if request.headers.get("content-type", "").startswith("application/xml"):
                self.received[key] = {"xml": body, "unit": request.path_params["unit"]}
            else:
                self.received[key] = orjson.loads(body) | {"unit": request.path_params["unit"]}
            return JSONResponse({"messageId": key}, status_code=201)

        return Starlette(routes=[Route("/units/{unit}/messages", message, methods=["POST"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


@contextlib.asynccontextmanager
async def serving(fake: FakeLifeCare, port: int) -> AsyncIterator[None]:
    server = _Quiet(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
