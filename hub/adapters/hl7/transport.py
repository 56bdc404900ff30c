"""The MLLP server (HL7 v2 Minimal Lower Layer Protocol: 0x0B message 0x1C 0x0D) on asyncio.

I/O only: each framed message goes to the injected ``handle`` coroutine, whose reply (the ACK)
is written back before the next message of the same connection is read, so replies keep their
order. Bytes outside a frame, a frame over the size limit and a frame cut short by a new start
byte go to ``reject`` (which stores them and answers a negative ACK). A missing final CR after
0x1C is tolerated. Shutdown stops accepting and lets in-flight messages finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable

from hub.adapters.hl7.config import Hl7Settings

log = logging.getLogger(__name__)

START, END, CR = b"\x0b", b"\x1c", b"\x0d"
Handle = Callable[[bytes, str], Awaitable[bytes | None]]
Reject = Callable[[bytes, str, str], Awaitable[bytes | None]]


def frame(message: bytes) -> bytes:
    """Wrap a message in MLLP framing."""
    return START + message + END + CR


class MllpServer:
    """Accepts many connections; one message at a time per connection."""

    def __init__(self, settings: Hl7Settings, handle: Handle, reject: Reject) -> None:
        self.settings = settings
        self._handle = handle
        self._reject = reject
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Future[bytes | None]] = set()
        self.connections_total = 0
        self.open_connections = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def _tls(self) -> ssl.SSLContext | None:
        if self.settings.tls_cert is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        return context

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.settings.host, self.settings.port,
                                                  ssl=self._tls(), limit=self.settings.max_message_bytes + 16)

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting; wait for in-flight messages; then close the connections."""
        if self._server is not None:
            self._server.close()
        if self._busy:
            await asyncio.wait(self._busy, timeout=grace)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.connections_total += 1
        self.open_connections += 1
        peer = writer.get_extra_info("peername")
        name = f"mllp:{peer[0]}:{peer[1]}" if peer else "mllp"
        try:
            await self._serve(reader, writer, name)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_connections -= 1
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
        buffer = b""
        limit = self.settings.max_message_bytes
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=self.settings.idle_timeout_s)
            except TimeoutError:
                return
            if not chunk:
                if buffer.strip(b"\r\n "):
                    await self._reject(buffer, name, "connection closed inside a frame (truncated message)")
                return
            buffer += chunk
            while buffer:
                start = buffer.find(START)
                if start < 0:
                    if len(buffer.strip(b"\r\n ")) > 0 and (len(buffer) > limit or END in buffer):
                        await self._reply(writer, await self._reject(buffer, name, "bytes outside an MLLP frame"))
                        buffer = b""
                    break
                if start > 0:
                    junk, buffer = buffer[:start], buffer[start:]
                    if junk.strip(b"\r\n "):
                        await self._reply(writer, await self._reject(junk, name, "bytes outside an MLLP frame"))
                end = buffer.find(END)
                restart = buffer.find(START, 1)
                if restart > 0 and (end < 0 or restart < end):
                    cut, buffer = buffer[1:restart], buffer[restart:]
                    await self._reply(writer, await self._reject(cut, name, "truncated frame: a new frame began"))
                    continue
                if end < 0:
                    if len(buffer) > limit:
                        await self._reply(writer, await self._reject(
                            buffer[1:limit + 1], name, f"message over the size limit of {limit} bytes"))
                        buffer = b""
                        await self._discard_until_end(reader)
                    break
                message = buffer[1:end]
                buffer = buffer[end + 1:]
                if buffer.startswith(CR):
                    buffer = buffer[1:]
                if len(message) > limit:
                    await self._reply(writer, await self._reject(
                        message[:limit], name, f"message over the size limit of {limit} bytes"))
                    continue
                await self._reply(writer, await self._run(message, name))

    async def _run(self, message: bytes, name: str) -> bytes | None:
        task = asyncio.ensure_future(self._handle(message, name))
        self._busy.add(task)
        try:
            return await asyncio.shield(task)
        finally:
            self._busy.discard(task)

    async def _discard_until_end(self, reader: asyncio.StreamReader) -> None:
        """Skip the rest of an oversized frame."""
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), timeout=self.settings.idle_timeout_s)
            if not chunk or END in chunk:
                return

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, ack: bytes | None) -> None:
        if ack is not None:
            writer.write(frame(ack))
            await writer.drain()


async def send(host: str, port: int, messages: list[bytes], *, timeout: float = 10.0,
               ssl_context: ssl.SSLContext | None = None) -> list[bytes]:
    """A minimal MLLP client: send each message and read its ACK (integrators' tool, tests)."""
    reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
    acks = []
    try:
        for message in messages:
            writer.write(frame(message))
            await writer.drain()
            data = await asyncio.wait_for(reader.readuntil(END + CR), timeout=timeout)
            acks.append(data[1:-2])
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return acks
