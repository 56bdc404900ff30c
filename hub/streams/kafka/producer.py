"""The log's producer side on Kafka, for adapters: ``acks=all`` and an idempotent producer.

Inbound acknowledgement contract (architecture.md, invariant 1): an adapter acknowledges a
message (MLLP ACK, HTTP 2xx) only after ``append`` has returned, and ``append`` returns only
once every record was acknowledged by all in-sync replicas. A failure raises TransportError and
nothing may be acknowledged; the sender re-sends, and the idempotent producer plus the event's
deterministic id keep the re-send harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from hub.errors import TransportError
from hub.schemas.envelope import Envelope
from hub.schemas.topics import EVENTS
from hub.settings import KafkaSettings
from hub.streams.kafka import binding
from hub.streams.kafka.config import client_kwargs
from hub.streams.log import Append, Appended

log = logging.getLogger(__name__)


async def start_with_retry(start: Callable[[], Awaitable[None]], stop: asyncio.Event) -> bool:
    """Call ``start`` until it succeeds (True), retrying TransportError with jittered exponential
    back-off (tenacity), or until ``stop`` is set (False). A role accepts nothing from senders
    before its Kafka client started."""
    async def attempts() -> None:
        async for attempt in AsyncRetrying(retry=retry_if_exception_type(TransportError),
                                           wait=wait_exponential_jitter(multiplier=0.5, max=15.0)):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    log.warning("Kafka not reachable yet (attempt %d)", attempt.retry_state.attempt_number)
                await start()

    task = asyncio.create_task(attempts())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True


class KafkaAppender:
    """Appends records to Kafka and returns once the brokers acknowledged them (acks=all)."""

    def __init__(self, settings: KafkaSettings, **producer_options: Any) -> None:
        self.settings = settings
        self._options = producer_options
        self._producer = self._new()
        self._started = False

    def _new(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(**client_kwargs(self.settings), acks="all", enable_idempotence=True,
                                **self._options)

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = self._new()  # a producer that failed to start is not started again
            raise TransportError(f"Kafka unreachable: {type(exc).__name__}", retry_after=1.0) from None
        self._started = True

    @property
    def started(self) -> bool:
        """The producer is connected (``start`` returned and ``stop`` was not called)."""
        return self._started

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def __aenter__(self) -> KafkaAppender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def append(self, records: Sequence[Append]) -> list[Appended]:
        """Send every record and wait for the brokers' acknowledgement of each; in order per key."""
        try:
            futures = [await self._producer.send(r.topic, r.value, key=r.key.encode(),
                                                 headers=list(r.headers), timestamp_ms=r.timestamp_ms)
                       for r in records]
            metadata = await asyncio.gather(*futures)
        except KafkaError as exc:
            raise TransportError(f"Kafka did not acknowledge: {type(exc).__name__}",
                                 retry_after=1.0) from None
        return [Appended(m.topic, m.partition, m.offset) for m in metadata]

    async def append_events(self, events: Sequence[Envelope], *, topic: str = EVENTS,
                            mode: binding.ContentMode | None = None) -> list[Appended]:
        """Canonical events through the CloudEvents binding (key = episode id)."""
        chosen = mode or self.settings.content_mode
        messages = [binding.encode(e, chosen) for e in events]
        return await self.append([Append(topic, m.key.decode(), m.value, m.headers) for m in messages])
