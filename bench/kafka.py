"""Kafka on librdkafka's mock cluster (loopback, 3 brokers, 4 partitions per topic).

1. Throughput: events/s of a Faust worker running the hub's registered processors over
   canonical events, against a plain aiokafka consume→produce loop over the same records on the
   same cluster in the same run (the baseline; goal ratio ≥ 0.20). The worker's batch is
   ``BATCH`` events or ``WITHIN`` seconds (environment; default 4000 and 0.5).
2. Restart-to-processing: seconds from starting a worker process until it processes again, after
   the previous worker was killed (SIGKILL) or stopped (SIGTERM), with static membership
   (group.instance.id) and without; the baseline is a cold start of a new group.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import emit, note
from hub.bootstrap import build_processors
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import HubSettings
from hub.streams.kafka.app import WorkerApp
from hub.streams.kafka.producer import KafkaAppender
from tests.support.kafka import MockCluster

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
BATCH, WITHIN = int(os.environ.get("BATCH", "4000")), float(os.environ.get("WITHIN", "0.5"))
ROOT = Path(__file__).resolve().parents[1]


async def plain_loop(cluster: MockCluster, n: int) -> float:
    """Consume n records and produce each to another topic without awaiting each send."""
    consumer = AIOKafkaConsumer(topics.EVENTS, bootstrap_servers=list(cluster.bootstrap), group_id="plain",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=list(cluster.bootstrap), acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    seen, t0 = 0, 0.0
    try:
        while seen < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batch.values():
                if records and not t0:
                    t0 = time.perf_counter()
                for r in records:
                    await producer.send("bench.plain.out", r.value, key=r.key, headers=list(r.headers))
                seen += len(records)
            if batch:
                await consumer.commit()
        await producer.flush()
        return n / (time.perf_counter() - t0)
    finally:
        await consumer.stop()
        await producer.stop()


async def faust_worker(cluster: MockCluster, n: int, data: Path) -> float:
    settings = cluster.settings(app_id="bench", data_dir=data, batch_size=BATCH, batch_within_s=WITHIN)
    worker = WorkerApp(settings, build_processors(HubSettings()), FakeClock(START + dt.timedelta(days=40)))
    await worker.app.start()
    try:
        # the processors reading svu.events (the others read internal topics, concurrently)
        readers = [a for a in worker.agents if topics.EVENTS in a.processor.INPUTS]
        t0 = 0.0
        while min(a.stats.events for a in readers) < n:
            if not t0 and any(a.stats.events for a in worker.agents):
                t0 = time.perf_counter()
            await asyncio.sleep(0.005)
        await worker.app.producer.flush()
        return n / (time.perf_counter() - t0)
    finally:
        await worker.app.stop()


async def faust_floor(cluster: MockCluster, n: int, data: Path) -> float:
    """A Faust agent that takes the same events in batches and does nothing with them: what
    Faust's consumer-to-stream path alone allows on this machine (what limits the worker)."""
    import faust

    app = faust.App("bench-floor", broker=[f"kafka://{s}" for s in cluster.bootstrap], store="memory://",
                    topic_allow_declare=False, topic_disable_leader=True, web_enabled=False,
                    consumer_auto_offset_reset="earliest", key_serializer="raw", value_serializer="raw",
                    datadir=str(data))
    seen, t0 = [0], [0.0]

    @app.agent(app.topic(topics.EVENTS, key_type=bytes, value_type=bytes))
    async def drain(stream: object) -> None:
        async for events in stream.take_events(4000, within=0.5):  # type: ignore[attr-defined]
            t0[0] = t0[0] or time.perf_counter()
            seen[0] += len(events)

    await app.start()
    try:
        while seen[0] < n:
            await asyncio.sleep(0.005)
        return n / (time.perf_counter() - t0[0])
    finally:
        await app.stop()


def _child(cluster: MockCluster, app_id: str, tmp: Path, name: str,
           instance: str | None) -> subprocess.Popen[bytes]:
    args = [",".join(cluster.bootstrap), app_id, str(tmp / f"data-{name}"), str(tmp / f"{name}.json"),
            *([instance] if instance else [])]
    return subprocess.Popen([sys.executable, "-m", "tests.support.kafka_worker", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _processing(path: Path) -> bool:
    try:
        return '"events": 0,' not in path.read_text() and '"events"' in path.read_text()
    except OSError:
        return False


async def _until_processing(path: Path, limit: float = 120.0) -> float:
    t0 = time.perf_counter()
    while not _processing(path):
        if time.perf_counter() - t0 > limit:
            raise TimeoutError(path.name)
        await asyncio.sleep(0.02)
    return time.perf_counter() - t0


async def restart(cluster: MockCluster, tmp: Path, label: str, sig: int | None, instance: str | None,
                  events: list[bytes]) -> float:
    """Seconds from starting a worker until it processes, after its predecessor got ``sig``."""
    app_id = f"restart-{label}"
    if sig is not None:
        first = _child(cluster, app_id, tmp, f"{label}-1", instance)
        await _until_processing(tmp / f"{label}-1.json")
        first.send_signal(sig)
        first.wait(30)
    producer = AIOKafkaProducer(bootstrap_servers=list(cluster.bootstrap), acks="all")
    await producer.start()
    for raw in events:
        await producer.send(topics.EVENTS, raw, key=b"VLL-2026-restart")
    await producer.stop()
    second = _child(cluster, app_id, tmp, f"{label}-2", instance)
    try:
        return await _until_processing(tmp / f"{label}-2.json")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)


async def run(episodes: int) -> None:
    cluster = MockCluster()
    sim = Simulator(start=START, episodes=episodes, seed=1, bad_share=0.0, span=dt.timedelta(days=20))
    events = sim.events()
    async with KafkaAppender(cluster.settings(), linger_ms=5) as appender:
        for i in range(0, len(events), 2000):
            await appender.append_events(events[i:i + 2000])
    n = len(events)
    note(f"kafka: {n} canonical events of {episodes} episodes on the mock cluster")
    base = await plain_loop(cluster, n)
    with tempfile.TemporaryDirectory() as tmp:
        worker = await faust_worker(cluster, n, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        floor = await faust_floor(cluster, n, Path(tmp))
    emit("kafka.plain_aiokafka_consume_produce", base, "events/s", events=n)
    emit("kafka.faust_agent_doing_nothing", floor, "events/s", base, events=n)
    emit("kafka.faust_worker.registered_processors", worker, "events/s", base, events=n, goal_ratio=0.2,
         processors=len(build_processors(HubSettings())))

    probe = [e.to_json() for e in events[:5]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cold = await restart(cluster, folder, "cold", None, None, probe)
        emit("kafka.worker_cold_start_to_processing", cold, "s")
        for label, sig, instance in (("static-kill", signal.SIGKILL, "w-1"),
                                     ("dynamic-kill", signal.SIGKILL, None),
                                     ("dynamic-term", signal.SIGTERM, None)):
            seconds = await restart(cluster, folder, label, sig, instance, probe)
            emit(f"kafka.restart_to_processing.{label}", seconds, "s", cold, session_timeout_s=6.0)
    cluster.close()


def main(episodes: int = 600) -> None:
    asyncio.run(run(episodes))
