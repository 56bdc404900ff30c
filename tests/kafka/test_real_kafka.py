"""Against a real Kafka broker in a container (testcontainers), where a Docker engine answers:
`hub topics` creates topics with their configuration, and a worker processes what the adapters'
producer appended. Skipped, with the reason, on machines without Docker."""

from __future__ import annotations

import datetime as dt
import gc
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.domain.clock import FakeClock
from hub.domain.timeline import TimelineProcessor
from hub.settings import KafkaSettings
from hub.streams.kafka.app import WorkerApp
from hub.streams.kafka.producer import KafkaAppender
from hub.streams.kafka.topics import TopicSpec, create, describe
from tests.support.kafka import wait_for
from tests.support.stream import numbered_event

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _docker_answers() -> str | None:
    """None when a Docker engine answers a ping within 2 s, else the reason to skip. (The Docker
    client leaves its socket for the collector when the engine is missing: collected here.)"""
    import docker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=2)
            client.ping()
            client.close()
        except Exception as exc:
            return f"no Docker engine answers ({type(exc).__name__}): real-Kafka tests need one"
        finally:
            gc.collect()
    return None


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    reason = _docker_answers()
    if reason:
        pytest.skip(reason)
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.1") as container:
        yield container.get_bootstrap_server()


async def test_topics_are_created_with_their_configuration(kafka: str) -> None:
    settings = KafkaSettings(bootstrap_servers=(kafka,), replication_factor=1)
    await create(settings, [TopicSpec("svu.events", 6, 1, {"cleanup.policy": "delete"}),
                            TopicSpec("svu.stats", 3, 1, {"cleanup.policy": "compact"})])
    found = await describe(settings, ["svu.events", "svu.stats"])
    assert (found["svu.events"].partitions, found["svu.stats"].partitions) == (6, 3)


async def test_a_worker_processes_what_the_producer_appended(kafka: str, tmp_path: Path) -> None:
    settings = KafkaSettings(bootstrap_servers=(kafka,), replication_factor=1, partitions=6,
                             data_dir=tmp_path, web_enabled=False, app_id="real")
    events = [numbered_event(i) for i in range(50)]
    async with KafkaAppender(settings) as appender:
        await appender.append_events(events)
    worker = WorkerApp(settings, [TimelineProcessor()], FakeClock(dt.datetime(2026, 3, 3, tzinfo=dt.UTC)))
    await worker.app.start()
    try:
        await wait_for(lambda: worker.agents[0].stats.events >= 50, timeout=120)
    finally:
        await worker.app.stop()
    assert sum(len(TimelineProcessor().decode_state(v)["entries"]) for v in worker.agents[0].state.values()) == 50
