"""The delivery worker: sends each requested delivery on ``svu.deliveries.lifecare.*`` to
LifeCare and records how it went (``DeliveryStatusChanged`` on the same topic) together with
its position, in one transaction. At least once: after a crash between sending and recording,
the message is sent again with the same idempotency key and the receiver answers 409. A delivery
that fails for good is dead-lettered with its reason and can be replayed from the ops API.

Delivery status is the truth: the worker keeps each delivered delivery id in its state store, in
the same transaction as the status and its position, and never sends a delivered id again — also
when the same request is on the log twice (a rebuild, a cutover hand-over applied again). Its
database work runs on a thread, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
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

    def _pending(self) -> list[Record]:
        sqlite = self.log
        assert sqlite is not None
        found: list[Record] = []
        for topic in [t for t in sqlite.topics() if t.startswith(self.PREFIX)]:
            for partition in range(sqlite.partitions(topic)):
                found += sqlite.read(topic, partition, self.positions.get(topic, partition), self.batch)
        return found

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        if self.log is None:
            return 0
        records = await asyncio.to_thread(self._pending)
        done = 0
        for record in records:
            if stop is not None and stop.is_set():
                return done  # the rest stays on the log for the next start
            await self._one(record)
            done += 1
        return done

    async def run(self, stop: asyncio.Event, *, idle: float = 0.2) -> None:
        if self.log is not None:  # after a restart: what the file says, not what memory thought
            self.positions = await asyncio.to_thread(self.log.positions, self.NAME)
        while not stop.is_set():
            if await self.run_once(stop) == 0:
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
        sqlite = self.log
        assert sqlite is not None
        delivery_id = _delivery_id(record.value)
        done = delivery_id is not None and (await asyncio.to_thread(sqlite.get_state, self.NAME, delivery_id)
                                            is not None)
        appends = [] if done else await self.outcome(record.topic, record.key, record.value)
        delivered: list[tuple[str, bytes | None]] = (
            [(delivery_id, b"delivered")] if delivery_id and appends and _delivered(appends[0]) else [])
        reopened = _reopened(record.value)
        if reopened is not None:  # an operator's resend: the request that follows is sent again
            delivered = [(reopened, None)]
        new = Positions(dict(self.positions.offsets))
        new.advance(record)

        def record_it() -> None:
            with sqlite.transaction() as tx:
                if appends:
                    tx.append(appends)
                if delivered:
                    tx.put_states(self.NAME, delivered)
                tx.commit_positions(self.NAME, new)

        await asyncio.to_thread(record_it)
        self.positions = new


def _delivered(status: Append) -> bool:
    found: dict[str, Any] = orjson.loads(status.value)
    return bool(found.get("data", {}).get("status") == DeliveryStatus.DELIVERED.value)


RESEND_SOURCE = "/hub/api/bridge"
"""The source of the pending status an operator's resend writes before the request again."""


def _reopened(value: bytes) -> str | None:
    """The delivery id an operator's resend reopens (its pending status record), else None."""
    if b"se.svu.delivery_status_changed.v1" not in value or RESEND_SOURCE.encode() not in value:
        return None
    event: dict[str, Any] = orjson.loads(value)
    data = event.get("data", {})
    if event.get("source") != RESEND_SOURCE or data.get("status") != DeliveryStatus.PENDING.value:
        return None
    found = data.get("delivery_id")
    return str(found) if found else None


def _delivery_id(value: bytes) -> str | None:
    """The delivery id of a request record (None for status records and anything else)."""
    if b"se.svu.delivery_requested.v1" not in value:
        return None
    event: dict[str, Any] = orjson.loads(value)
    if event.get("type") != "se.svu.delivery_requested.v1":
        return None
    found = event.get("data", {}).get("delivery_id")
    return str(found) if found else None


class PratorDrop:
    """Delivers Prator XML into a drop directory, one folder per receiver, durably: written to a
    temporary file, fsynced, renamed, and the folder fsynced — only then is it reported
    delivered (and recorded so). A crash before the rename leaves no file and no record, and the
    delivery is written again; a file already there means already delivered."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def __call__(self, data: dict[str, Any], episode_id: str) -> Result:
        from hub.adapters.prator.mapping import render as render_xml

        body = render_xml(data, episode_id)
        target = self.folder / data["receiver"] / f"{data['idempotency_key']}.xml"
        if target.exists():
            return Result(True, None, "already delivered (file exists)", 1)
        try:
            await asyncio.to_thread(write_durably, target, body)
        except OSError as exc:
            return Result(False, None, f"cannot write the file: {exc.strerror}", 1)
        return Result(True, None, f"written to {target.parent.name}/{target.name}", 1)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(target: Path, body: bytes) -> None:
    """Temporary file, fsync, rename, fsync of the folder: after a return the file survives a
    power cut; before it, ``target`` does not exist (a reader never sees a partial file)."""
    created = not target.parent.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    if created:
        _fsync_dir(target.parent.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)


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
