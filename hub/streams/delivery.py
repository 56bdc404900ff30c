"""The delivery worker: sends each requested delivery on ``svu.deliveries.lifecare.*`` to
LifeCare and records how it went (``DeliveryStatusChanged`` on the same topic) together with
its position, in one transaction. At least once: after a crash between sending and recording,
the message is sent again with the same idempotency key and the receiver answers 409. A delivery
that fails for good is dead-lettered with its reason and can be replayed from the ops API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from hub.adapters.lifecare.render import render
from hub.adapters.lifecare.transport import LifeCareClient, Result
from hub.domain.clock import Clock
from hub.errors import ValidationFailed
from hub.schemas.envelope import new_event
from hub.schemas.operations import DeliveryStatus, DeliveryStatusChanged
from hub.streams import metrics, otel
from hub.streams.dlq import dead_letter
from hub.streams.log import Append, Positions, Record
from hub.streams.sqlite_log import SqliteLog

log = logging.getLogger(__name__)


Send = Callable[[dict[str, Any], str], Awaitable[Result]]
"""Delivers one request (its data, its episode id) to the target system."""


def lifecare_sender(client: LifeCareClient) -> Send:
    async def send(data: dict[str, Any], episode_id: str) -> Result:
        path, body, headers = render(data, episode_id)
        return await client.deliver(path, body, headers)

    return send


class DeliveryWorker:
    """Delivers to one system, one record at a time per partition, in log order."""

    def __init__(self, sqlite: SqliteLog | None, send: Send | LifeCareClient, clock: Clock, *,
                 system: str = "lifecare", batch: int = 100) -> None:
        self.log = sqlite  # None: deliveries come from Kafka (hub.streams.kafka.delivery)
        self.send = lifecare_sender(send) if isinstance(send, LifeCareClient) else send
        self.clock = clock
        self.batch = batch
        self.system = system
        self.NAME = f"delivery-{system}"
        self.PREFIX = f"svu.deliveries.{system}."
        self.positions = sqlite.positions(self.NAME) if sqlite is not None else Positions()
        self.delivered = 0
        self.failed = 0
        self.in_hand_since: dt.datetime | None = None

    async def run_once(self) -> int:
        done, sqlite = 0, self.log
        if sqlite is None:
            return 0
        for topic in [t for t in sqlite.topics() if t.startswith(self.PREFIX)]:
            for partition in range(sqlite.partitions(topic)):
                for record in sqlite.read(topic, partition, self.positions.get(topic, partition), self.batch):
                    await self._one(record)
                    done += 1
        return done

    async def run(self, stop: asyncio.Event, *, idle: float = 0.2) -> None:
        while not stop.is_set():
            if await self.run_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)

    async def outcome(self, topic: str, key: str, value: bytes) -> list[Append]:
        """Deliver one record of a delivery topic (a request; status records are skipped) and
        return what to append: its new status, and a dead letter when it failed for good."""
        event: dict[str, Any] = orjson.loads(value)
        if event.get("type") != "se.svu.delivery_requested.v1":
            return []
        data = event["data"]
        self.in_hand_since = metrics.requested_at(event)  # the age of what waits, for /metrics
        try:
            result = await otel.delivering(self.system, event, self.send(data, event["episodeid"]))
        except ValidationFailed as exc:  # cannot be rendered for this system: fails for good
            result = Result(False, None, f"cannot render: {exc}", 0)
        self.in_hand_since = None
        now = self.clock.now()
        status = DeliveryStatus.DELIVERED if result.delivered else DeliveryStatus.DEAD_LETTERED
        change = DeliveryStatusChanged(delivery_id=data["delivery_id"], status=status, at=now,
                                       detail=result.detail[:500])
        ev = new_event(change, episode_id=event["episodeid"], source=f"/hub/delivery/{self.system}",
                       source_message_id=f"{data['delivery_id']}:{status.value}", time=now, received_at=now)
        appends = [Append(topic, key, ev.to_json())]
        if result.delivered:
            self.delivered += 1
        else:
            self.failed += 1
            log.error("delivery %s to %s failed for good: %s", data["delivery_id"], data["receiver"],
                      result.detail[:200])
            appends.append(dead_letter(self.NAME, value, [("", result.detail[:500])], now,
                                       source_message_id=data["delivery_id"], key=key))
        return appends

    async def _one(self, record: Record) -> None:
        appends = await self.outcome(record.topic, record.key, record.value)
        new = Positions(dict(self.positions.offsets))
        new.advance(record)
        assert self.log is not None
        with self.log.transaction() as tx:
            if appends:
                tx.append(appends)
            tx.commit_positions(self.NAME, new)
        self.positions = new


class PratorDrop:
    """Delivers Prator XML into a drop directory, one folder per receiver, written atomically
    (temporary name, then rename); a file already there means already delivered."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def __call__(self, data: dict[str, Any], episode_id: str) -> Result:
        from hub.adapters.prator.mapping import render as render_xml

        body = render_xml(data, episode_id)
        target = self.folder / data["receiver"] / f"{data['idempotency_key']}.xml"
        if target.exists():
            return Result(True, None, "already delivered (file exists)", 1)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".xml.tmp")
            tmp.write_bytes(body)
            tmp.replace(target)
        except OSError as exc:
            return Result(False, None, f"cannot write the file: {exc.strerror}", 1)
        return Result(True, None, f"written to {target.parent.name}/{target.name}", 1)


class PratorHttp:
    """Delivers Prator XML over HTTP with the same retries, back-off and circuit breaker."""

    def __init__(self, client: LifeCareClient) -> None:
        self.client = client

    async def __call__(self, data: dict[str, Any], episode_id: str) -> Result:
        from hub.adapters.prator.mapping import render as render_xml

        headers = {"Idempotency-Key": data["idempotency_key"], "Content-Type": "application/xml"}
        return await self.client.deliver(f"/units/{data['receiver']}/messages", render_xml(data, episode_id), headers)


def delivery_replayer(sqlite: SqliteLog) -> Any:
    """Re-queues a dead-lettered delivery (after the target or the directory was fixed): the same
    request, same idempotency key, on its topic again; the worker sends it once more."""
    from hub.schemas import topics
    from hub.streams.ingest import Outcome

    def replay(raw: bytes, original: str) -> Outcome:
        event: dict[str, Any] = orjson.loads(raw)
        data = event.get("data", {})
        if event.get("type") != "se.svu.delivery_requested.v1":
            return Outcome(False, errors=(("type", "not a delivery request"),))
        topic = topics.deliveries(str(data["system"]), str(data["receiver"]))
        (stored,) = sqlite.append([Append(topic, event["episodeid"], raw)])
        return Outcome(True, event.get("id"), event["episodeid"], stored_at=stored)

    return replay
