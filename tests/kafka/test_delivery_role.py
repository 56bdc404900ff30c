"""``hub adapter delivery`` on librdkafka's mock cluster, against a fake LifeCare over loopback
HTTP: every request the engine routed is delivered once, its status and any dead letter are on
Kafka, and a restarted worker resumes from its committed offsets without sending anything again."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from hub.adapters.lifecare.config import LifeCareSettings
from hub.bootstrap import build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.roles import DeliveryRole, serve_delivery
from hub.schemas import topics
from hub.settings import ApiSettings, EngineSettings, HubSettings, LogSettings
from hub.streams.kafka import binding
from hub.streams.kafka.committer import to_kafka
from hub.streams.kafka.producer import KafkaAppender
from hub.streams.log import Append
from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving
from tests.support.kafka import MOCK_PARTITIONS, MockCluster, read_all, wait_for

pytestmark = pytest.mark.slow
START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
NOW = START + dt.timedelta(days=30)


def _routed(tmp: Path) -> list[Append]:
    """The LifeCare delivery requests the engine routes for simulated traffic."""
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    hub = build_hub(HubSettings(log=LogSettings(path=tmp / "hub.db"), engine=EngineSettings(directory=directory)),
                    clock=FakeClock(NOW))
    hub.ingestor.submit_events(Simulator(start=START, episodes=5, seed=21, bad_share=0).events())
    hub.runtime.run_until_idle()
    out = [Append(t, r.key, r.value) for t in hub.log.topics() if t.startswith("svu.deliveries.lifecare.")
           for p in range(hub.log.partitions(t)) for r in hub.log.read(t, p, 0, 10_000)
           if orjson.loads(r.value)["type"] == "se.svu.delivery_requested.v1"]
    hub.close()
    return out


@contextlib.asynccontextmanager
async def role(settings: HubSettings) -> AsyncIterator[DeliveryRole]:
    started: asyncio.Future[DeliveryRole] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_delivery(settings, "lifecare", clock=FakeClock(NOW), stop=stop,
                                              on_started=started.set_result))
    done, _ = await asyncio.wait({started, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    assert started in done, task.exception() if task.done() else "the delivery role did not start"
    try:
        yield started.result()
    finally:
        stop.set()
        await task


async def _committed_to_end(cluster: MockCluster, group: str, names: list[str]) -> bool:
    ends = {TopicPartition(t, p): len([r for r in await read_all(cluster.bootstrap, t) if r.partition == p])
            for t in names for p in range(MOCK_PARTITIONS)}
    admin = AIOKafkaAdminClient(bootstrap_servers=list(cluster.bootstrap))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=list(ends))
    finally:
        await admin.close()
    return all(end == 0 or (tp in committed and committed[tp].offset == end) for tp, end in ends.items())


async def test_deliveries_from_kafka_once_with_statuses_on_kafka(cluster: MockCluster, tmp_path: Path) -> None:
    requests = _routed(tmp_path)
    wanted = {orjson.loads(a.value)["data"]["idempotency_key"] for a in requests}
    assert len(wanted) == len(requests) > 5
    kafka = cluster.settings(app_id="deliver")
    async with KafkaAppender(kafka) as appender:
        await appender.append([to_kafka(a, "binary") for a in requests])
    fake, port = FakeLifeCare(Behaviour(fail_with=[400])), free_port()  # the first one is refused for good
    lifecare = LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01,
                                backoff_max_s=0.05, timeout_s=2, max_attempts=2)
    settings = HubSettings(kafka=kafka, lifecare=lifecare, api=ApiSettings(host="127.0.0.1", port=0))
    names = sorted({a.topic for a in requests})
    async with serving(fake, port):
        async with role(settings) as first:
            await wait_for(lambda: len(fake.received) + first.worker.deliverer.failed == len(wanted),
                           describe=lambda: f"{len(fake.received)} of {len(wanted)}")
        assert fake.requests == len(wanted)  # one POST each: nothing was sent twice
        late = requests[0]
        again = orjson.loads(late.value)
        again["data"]["idempotency_key"] = again["data"]["delivery_id"] = "late-1"
        async with KafkaAppender(kafka) as appender:
            await appender.append([to_kafka(Append(late.topic, late.key, orjson.dumps(again)), "binary")])
        async with role(settings) as second:  # resumes at the committed offsets
            await wait_for(lambda: "late-1" in fake.received)
            await _until(lambda: _committed_to_end(cluster, second.worker.group, names))
        assert fake.requests == len(wanted) + 1 and len(fake.received) == len(wanted)

    statuses = [orjson.loads(binding.to_structured(r.value, tuple(r.headers)))
                for t in names for r in await read_all(cluster.bootstrap, t)]
    changed = [s["data"] for s in statuses if s["type"] == "se.svu.delivery_status_changed.v1"]
    assert sorted(c["status"] for c in changed).count("delivered") == len(wanted)
    assert [c["status"] for c in changed].count("dead_lettered") == 1
    letters = [orjson.loads(r.value) for r in await read_all(cluster.bootstrap, topics.dlq("delivery-lifecare"))]
    assert len(letters) == 1 and "400" in letters[0]["reason"]


async def _until(check: object, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("offsets not committed to the end")
        await asyncio.sleep(0.2)
