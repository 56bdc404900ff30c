"""Delivery on Kafka: ``hub adapter delivery --system lifecare|prator`` consumes
``svu.deliveries.<system>.*`` in a consumer group of its own, sends each request with the
embedded hub's delivery logic (``hub.streams.delivery.DeliveryWorker.outcome``: retries,
back-off, circuit breaker, idempotency key), produces the new status (and a dead letter when it
failed for good) with ``acks=all``, and only then commits the request's offset.

At least once: a crash (or Kafka refusing the status) between the send and the commit sends
the request again with the same idempotency key, and the receiver answers 409 (LifeCare) or
finds the file already there (Prator drop). Records of one receiver keep their order: they
share a partition (key = episode id) and are handled one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from hub.errors import TransportError
from hub.settings import KafkaSettings
from hub.streams.delivery import DeliveryWorker
from hub.streams.kafka import binding
from hub.streams.kafka.committer import Producer, to_kafka
from hub.streams.kafka.config import client_kwargs
from hub.streams.kafka.producer import start_with_retry

log = logging.getLogger(__name__)


class KafkaDeliveryWorker:
    """One system's deliveries from Kafka (several replicas share the partitions)."""

    def __init__(self, settings: KafkaSettings, deliverer: DeliveryWorker, producer: Producer, *,
                 max_records: int = 100, retry_s: float = 1.0) -> None:
        self.settings = settings
        self.deliverer = deliverer
        self.producer = producer
        self.max_records = max_records
        self.retry_s = retry_s
        self.group = f"{settings.app_id}-delivery-{deliverer.system}"
        self.pattern = rf"^svu\.deliveries\.{re.escape(deliverer.system)}\..+"
        self.running = False
        self.handled = 0
        self.refusals = 0
        self.consumer: AIOKafkaConsumer | None = None  # while running: its lag is a metric

    def check(self) -> dict[str, Any]:
        return {"ok": self.running, "handled": self.handled, "delivered": self.deliverer.delivered,
                "failed": self.deliverer.failed}

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(**client_kwargs(s), group_id=self.group, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_instance_id=s.group_instance_id,
                                    session_timeout_ms=int(s.session_timeout_s * 1000),
                                    heartbeat_interval_ms=int(s.heartbeat_interval_s * 1000),
                                    metadata_max_age_ms=5000)
        consumer.subscribe(pattern=self.pattern)
        self.consumer = consumer

        async def start() -> None:
            try:
                await consumer.start()
            except KafkaError as exc:
                raise TransportError(f"Kafka unreachable: {type(exc).__name__}", retry_after=1.0) from None

        if not await start_with_retry(start, stop):
            return
        self.running = True
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
                for tp, records in batch.items():
                    for record in records:
                        if not await self._one(consumer, tp, record):
                            consumer.seek(tp, record.offset)  # read it again after a pause
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(stop.wait(), timeout=self.retry_s)
                            break
        finally:
            self.running = False
            await consumer.stop()  # leaves the group: another replica takes the partitions at once

    async def _one(self, consumer: AIOKafkaConsumer, tp: TopicPartition, record: Any) -> bool:
        """Deliver one record, store its status, commit its offset; False to try it again."""
        headers = tuple((k, bytes(v or b"")) for k, v in record.headers)
        key = record.key.decode("utf-8", "replace") if record.key is not None else ""
        try:
            value = binding.to_structured(record.value or b"", headers)
            appends = await self.deliverer.outcome(tp.topic, key, value)
        except Exception as exc:  # a record no delivery can come of: it is skipped, and said so
            log.error("delivery record %s/%d/%d unreadable (%s); skipped", tp.topic, tp.partition,
                      record.offset, type(exc).__name__)
            appends = []
        try:
            if appends:
                await self.producer.append([to_kafka(a, self.settings.content_mode) for a in appends])
            await consumer.commit({tp: record.offset + 1})
        except (TransportError, KafkaError) as exc:
            self.refusals += 1
            log.warning("delivery status not stored (%s); the request will be sent again", type(exc).__name__)
            return False
        self.handled += 1
        return True
