"""The Kafka roles on librdkafka's mock cluster: the MLLP adapter (``hub adapter mllp``), whose
ACK waits for the brokers' acknowledgement (acks=all), measured like the embedded hub's MLLP
endpoint (SQLite group commit, the baseline) in the same run: paced at 500 messages/s (p50/p99
ACK latency) and unpaced over 8 connections."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.common import emit, note
from bench.hl7 import measure, round_trip
from hub.adapters.hl7.config import Hl7Settings
from hub.roles import MllpAdapter, serve_mllp_adapter
from hub.settings import ApiSettings, HubSettings
from tests.support.hl7 import WARDS
from tests.support.kafka import MockCluster


async def on_kafka(cluster: MockCluster) -> tuple[float, float, float, float]:
    settings = HubSettings(kafka=cluster.settings(), hl7=Hl7Settings(enabled=True, port=0, wards=WARDS),
                           api=ApiSettings(host="127.0.0.1", port=0))
    started: asyncio.Future[MllpAdapter] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_mllp_adapter(settings, stop=stop, on_started=started.set_result))
    adapter = await asyncio.wait_for(started, 60)
    try:
        assert adapter.server is not None
        return await measure(adapter.server.port, prefix=b"K")
    finally:
        stop.set()
        await task


def main() -> None:
    cluster = MockCluster()
    note("kafka-roles: MLLP adapter on the mock cluster (3 brokers, acks=all) vs the embedded endpoint")
    with tempfile.TemporaryDirectory() as tmp:
        base = asyncio.run(round_trip(Path(tmp)))
    kafka = asyncio.run(on_kafka(cluster))
    cluster.close()
    for label, i, unit in (("paced_500_per_s.rate", 0, "messages/s"), ("ack_latency_p50", 1, "ms"),
                           ("ack_latency_p99", 2, "ms"), ("unpaced_8_connections", 3, "messages/s")):
        emit(f"kafka_roles.mllp_on_kafka.{label}", kafka[i], unit, base[i], baseline_is="embedded SQLite endpoint")
