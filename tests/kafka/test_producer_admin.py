"""The adapters' producer on the mock cluster (append returns after the brokers' ack, keyed by
episode, murmur2 partitions as the embedded log), and the admin calls of `hub topics`."""

from __future__ import annotations

import pytest

from hub.errors import TransportError
from hub.schemas import topics
from hub.streams.kafka import binding
from hub.streams.kafka.producer import KafkaAppender
from hub.streams.kafka.topics import TopicSpec, create, describe, plan
from hub.streams.log import partition_for
from tests.support.kafka import MOCK_PARTITIONS, MockCluster, read_all
from tests.support.stream import numbered_event


async def test_append_returns_after_the_ack_with_offsets_on_the_key_partition(cluster: MockCluster) -> None:
    events = [numbered_event(i) for i in range(30)]
    async with KafkaAppender(cluster.settings()) as appender:
        stored = await appender.append_events(events)
        # idempotent: the brokers gave this producer an id, and sequence numbers go with it
        assert appender._producer._txn_manager is not None
        assert appender._producer._txn_manager.producer_id >= 0
    assert [s.partition for s in stored] == [partition_for(e.episode_id, MOCK_PARTITIONS) for e in events]
    assert all(s.offset >= 0 for s in stored)
    records = await read_all(cluster.bootstrap, topics.EVENTS)  # acknowledged: readable at once
    assert len(records) == 30
    decoded = {binding.decode(binding.KafkaMessage(r.key, r.value, tuple(r.headers))).id for r in records}
    assert decoded == {e.id for e in events}


async def test_an_unreachable_cluster_is_a_transport_error() -> None:
    from hub.settings import KafkaSettings

    appender = KafkaAppender(KafkaSettings(bootstrap_servers=("127.0.0.1:1",)), request_timeout_ms=500)
    with pytest.raises(TransportError, match="unreachable"):
        await appender.start()
    await appender._producer.stop()


async def test_describe_reads_partitions_and_replicas_from_the_cluster(cluster: MockCluster) -> None:
    settings = cluster.settings()
    async with KafkaAppender(settings) as appender:
        await appender.append_events([numbered_event(0)])
    found = await describe(settings, [topics.EVENTS, "svu.never-written"])
    assert set(found) == {topics.EVENTS}
    assert found[topics.EVENTS].partitions == MOCK_PARTITIONS
    actions = plan([TopicSpec(topics.EVENTS, 12, 1), TopicSpec("svu.never-written", 12, 1)], found)
    assert [(a.action, a.problems) for a in actions] == [
        ("mismatch", ("partitions 4, want 12",)), ("create", ())]


async def test_create_topics_is_refused_by_the_mock_cluster(cluster: MockCluster) -> None:
    # What could be tested here: the request is built and sent. A real broker creates the
    # topic (tests/kafka/test_real_kafka.py, with Docker); the mock has no CreateTopics.
    with pytest.raises(TransportError, match="CreateTopics failed"):
        await create(cluster.settings(), [TopicSpec("svu.created", 6, 1, {"cleanup.policy": "compact"})])
