"""The MLLP server (HL7 v2 Minimal Lower Layer Protocol: 0x0B message 0x1C 0x0D) on asyncio.

I/O only: each framed message goes to the injected ``handle`` coroutine, whose reply (the ACK)
is written back before the next message of the same connection is read, so replies keep their
order — and each received frame gets exactly one reply (or none when MSH-15/16 ask for none):

- a frame runs from 0x0B to the next 0x1C; a stray 0x0B inside it (what a pasted manual line
  break becomes) is data, never the start of a second frame;
- bytes outside a frame and a frame over ``max_message_bytes`` go to ``reject`` (stored,
  answered AR); an oversized frame is skipped up to its own end byte, and the frames after it
  in the same read are processed;
- a missing final CR after 0x1C is tolerated;
- at most ``max_connections`` connections; a connection holds at most ``max_buffered_bytes``
  read but unanswered (the kernel's window holds the rest back from the sender).

Shutdown stops accepting and lets in-flight messages finish.
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
        self.refused_connections = 0
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
        if len(self._connections) >= self.settings.max_connections:
            self.refused_connections += 1
            log.warning("MLLP connection refused: %d connections open (max_connections)", len(self._connections))
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
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
        cap = max(self.settings.max_buffered_bytes, limit + 2)
        discarding = False  # inside an oversized frame, already answered: skip to its end byte
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(min(65536, cap - len(buffer))),
                                               timeout=self.settings.idle_timeout_s)
            except TimeoutError:
                return
            if not chunk:
                if buffer.strip(b"\r\n ") and not discarding:
                    await self._reject(buffer, name, "connection closed inside a frame (truncated message)")
                return
            buffer += chunk
            while buffer:
                if discarding:
                    end = buffer.find(END)
                    if end < 0:
                        buffer = b""
                        break
                    buffer, discarding = buffer[end + 1:].removeprefix(CR), False
                    continue
                start = buffer.find(START)
                end = buffer.find(END)
                if start < 0 or (0 <= end < start):
                    if end >= 0:  # bytes that end like a frame but never began as one
                        junk, buffer = buffer[:end], buffer[end + 1:].removeprefix(CR)
                        if junk.strip(b"\r\n "):
                            await self._reply(writer, await self._reject(junk, name, "bytes outside an MLLP frame"))
                        continue
                    if len(buffer) > limit:
                        outside = await self._reject(buffer[:limit], name, "bytes outside an MLLP frame")
                        await self._reply(writer, outside)
                        buffer, discarding = b"", True
                    break
                if start > 0:
                    junk, buffer = buffer[:start], buffer[start:]
                    end -= start
                    if junk.strip(b"\r\n "):
                        await self._reply(writer, await self._reject(junk, name, "bytes outside an MLLP frame"))
                if end < 0:
                    if len(buffer) - 1 > limit:  # answered now; the rest of the frame is skipped
                        await self._reply(writer, await self._reject(
                            buffer[1:limit + 1], name, f"message over the size limit of {limit} bytes"))
                        buffer, discarding = b"", True
                    break
                message = buffer[1:end]
                buffer = buffer[end + 1:].removeprefix(CR)
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
