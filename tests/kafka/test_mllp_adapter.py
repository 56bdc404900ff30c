"""``hub adapter mllp`` on librdkafka's mock cluster: each HL7 message is acknowledged only after
Kafka acknowledged its raw bytes and canonical events (binary CloudEvents), bad input gets a NAK
naming segment and field and a dead letter on Kafka, a store that refuses gives AR (re-send), and
the probes answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import orjson
import pytest

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import MllpServer, send
from hub.errors import TransportError
from hub.roles import MllpAdapter, serve_mllp_adapter
from hub.schemas import topics
from hub.settings import ApiSettings, HubSettings
from hub.streams.clock import SystemClock
from hub.streams.hl7_ingest import Hl7Ingest
from hub.streams.kafka import binding
from hub.streams.kafka.committer import KafkaCommitter
from hub.streams.log import Append, Appended
from tests.support.hl7 import WARDS, adt, lookup
from tests.support.kafka import MockCluster, read_all


def _msa(ack: bytes) -> list[str]:
    return next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")


def _err(ack: bytes) -> str:
    return next((s for s in ack.decode().split("\r") if s.startswith("ERR")), "")


@contextlib.asynccontextmanager
async def running(cluster: MockCluster, tmp_path: Path) -> AsyncIterator[MllpAdapter]:
    settings = HubSettings(kafka=cluster.settings(), hl7=Hl7Settings(enabled=True, port=0, wards=WARDS, ack_policy="strict"),
                           api=ApiSettings(host="127.0.0.1", port=0))
    started: asyncio.Future[MllpAdapter] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_mllp_adapter(settings, stop=stop, on_started=started.set_result))
    done, _ = await asyncio.wait({started, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    assert started in done, task.exception() if task.done() else "the adapter did not start"
    try:
        yield started.result()
    finally:
        stop.set()
        await task


async def test_acks_follow_kafka_and_records_are_cloudevents(cluster: MockCluster, tmp_path: Path) -> None:
    async with running(cluster, tmp_path) as adapter:
        assert adapter.server is not None
        messages = [adt(control="K1").encode(), adt(control="K2", ward="X9^^^NUS").encode(),
                    adt("A03", control="K3", discharge="202603061500").encode(), adt(control="K1").encode()]
        acks = await send("127.0.0.1", adapter.server.port, messages)
        assert [_msa(a)[1] for a in acks] == ["AA", "AE", "AA", "AA"]
        assert "PV1^1^3" in _err(acks[1])  # the NAK names segment and field
        async with httpx.AsyncClient(base_url=adapter.probes_url or "") as client:
            ready = await client.get("/ready")
            metrics = (await client.get("/metrics")).text
        assert ready.status_code == 200 and ready.json()["checks"]["kafka"]["ok"] is True
        assert "svu_hub_mllp_messages_total 4.0" in metrics
        assert "svu_hub_mllp_duplicates_total 1.0" in metrics

    events = await read_all(cluster.bootstrap, topics.EVENTS)
    decoded = [binding.decode(binding.KafkaMessage(r.key, r.value, tuple(r.headers))) for r in events]
    assert sorted(e.source_message_id for e in decoded) == ["COSMIC|NUS|K1", "COSMIC|NUS|K3"]
    assert all(binding.is_binary(tuple(r.headers)) for r in events)  # ce_ headers, the default mode
    assert all(r.key.decode() == e.episode_id for r, e in zip(events, decoded, strict=True))
    raw = await read_all(cluster.bootstrap, topics.raw("hl7"))
    assert sorted(r.value for r in raw) == sorted(messages)  # every byte received, duplicate included
    letters = [orjson.loads(r.value) for r in await read_all(cluster.bootstrap, topics.dlq("hl7"))]
    assert len(letters) == 1 and "ward 'X9'" in letters[0]["reason"]


class GatedProducer:
    """A producer whose acknowledgement waits for the test to open the gate, or fails."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.fail = False
        self.produced: list[Append] = []

    async def append(self, records: Sequence[Append]) -> list[Appended]:
        await self.gate.wait()
        if self.fail:
            raise TransportError("Kafka did not acknowledge: KafkaTimeoutError", retry_after=1.0)
        self.produced.extend(records)
        return [Appended(r.topic, 0, i) for i, r in enumerate(records)]


@contextlib.asynccontextmanager
async def gated_server(producer: GatedProducer) -> AsyncIterator[tuple[MllpServer, Hl7Ingest]]:
    ingest = Hl7Ingest(KafkaCommitter(producer), lookup, SystemClock())
    server = MllpServer(Hl7Settings(port=0, wards=WARDS), ingest.handle, ingest.reject)
    await server.start()
    try:
        yield server, ingest
    finally:
        await server.close()


async def test_no_ack_before_kafka_acknowledged() -> None:
    producer = GatedProducer()
    async with gated_server(producer) as (server, _):
        sending = asyncio.create_task(send("127.0.0.1", server.port, [adt(control="G1").encode()]))
        await asyncio.sleep(0.3)
        assert not sending.done() and producer.produced == []  # held while Kafka has not answered
        producer.gate.set()
        (ack,) = await sending
        assert _msa(ack)[1] == "AA"
        assert [r.topic for r in producer.produced] == [topics.raw("hl7"), topics.EVENTS]


@pytest.mark.parametrize("accept_ack", ["", "AL"])
async def test_a_refusing_store_answers_reject_so_the_sender_resends(accept_ack: str) -> None:
    producer = GatedProducer()
    producer.fail = True
    producer.gate.set()
    async with gated_server(producer) as (server, ingest):
        (ack,) = await send("127.0.0.1", server.port, [adt(control="F1", accept_ack=accept_ack).encode()])
        assert _msa(ack)[1] == ("CR" if accept_ack else "AR")
        assert "207" in _err(ack) and "send it again" in ack.decode()
        assert ingest.unstored == 1
        producer.fail = False  # Kafka is back: the re-send is accepted and stored
        (again,) = await send("127.0.0.1", server.port, [adt(control="F1", accept_ack=accept_ack).encode()])
        assert _msa(again)[1] == ("CA" if accept_ack else "AA")
        assert [r.topic for r in producer.produced] == [topics.raw("hl7"), topics.EVENTS]


async def test_a_drop_file_the_store_refused_stays_for_the_next_scan(tmp_path: Path) -> None:
    from hub.streams.hl7_files import process_file

    producer = GatedProducer()
    producer.fail = True
    producer.gate.set()
    ingest = Hl7Ingest(KafkaCommitter(producer), lookup, SystemClock())
    path = tmp_path / "a01.hl7"
    path.write_bytes(adt(control="D1").encode())
    assert await process_file(path, ingest) is False
    assert path.exists() and not (tmp_path / "rejected").exists()
    producer.fail = False  # the store is back: the same file goes through
    assert await process_file(path, ingest) is True
    assert (tmp_path / "processed" / "a01.hl7").exists()
    assert [r.topic for r in producer.produced] == [topics.raw("hl7"), topics.EVENTS]
