"""Deliveries to a fake LifeCare over real HTTP on loopback: the target down then up, 500, 409,
429 with Retry-After, slow answers — nothing lost, nothing doubled, every status recorded."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path

import orjson
import pytest

from hub.adapters.lifecare.config import LifeCareSettings
from hub.adapters.lifecare.transport import LifeCareClient
from hub.bootstrap import Hub, build_hub
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.settings import EngineSettings, HubSettings, LogSettings
from hub.streams.delivery import DeliveryWorker
from tests.support.fake_lifecare import Behaviour, FakeLifeCare, free_port, serving

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)


def _hub(tmp_path: Path) -> Hub:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), engine=EngineSettings(directory=directory))
    hub = build_hub(settings, clock=FakeClock(START + dt.timedelta(days=30)))
    hub.ingestor.submit_events(Simulator(start=START, episodes=6, seed=21, bad_share=0).events())
    hub.runtime.run_until_idle()
    return hub


def _client(port: int, **kw: object) -> LifeCareClient:
    return LifeCareClient(LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}", backoff_initial_s=0.01,
                                           backoff_max_s=0.05, timeout_s=2, **kw))  # type: ignore[arg-type]


def _requested(hub: Hub) -> set[str]:
    rows = hub.log.query("SELECT idempotency_key FROM deliveries WHERE system = 'lifecare'")
    return {str(r["idempotency_key"]) for r in rows}


async def _drain(worker: DeliveryWorker, hub: Hub) -> None:
    while await worker.run_once():
        pass
    hub.runtime.run_until_idle()


async def test_target_down_then_up_nothing_lost_nothing_doubled(tmp_path: Path) -> None:
    hub, fake, port = _hub(tmp_path), FakeLifeCare(), free_port()
    wanted = _requested(hub)
    assert len(wanted) > 10
    client = _client(port, max_attempts=2)
    worker = DeliveryWorker(hub.log, client, hub.clock)
    try:
        await worker.run_once()  # nobody listens: each fails for good and is dead-lettered
        hub.runtime.run_until_idle()
        assert worker.failed == len(wanted)
        dead = hub.log.query("SELECT COUNT(*) AS n FROM dead_letters WHERE source = 'delivery-lifecare'")
        assert dead[0]["n"] == len(wanted)
        # the target comes back: ops replay the dead letters, keeping the link to each original
        from hub.api.context import ApiContext
        from hub.streams.delivery import delivery_replayer

        ctx = ApiContext(hub.settings, hub.log, hub.clock, replayers={"delivery-lifecare": delivery_replayer(hub.log)})
        replay = ctx.replayer_for("delivery-lifecare")
        assert replay is not None
        for row in hub.log.query("SELECT * FROM dead_letters WHERE source = 'delivery-lifecare'"):
            from hub.schemas.operations import DeadLetter

            record = hub.log.read_one(str(row["topic"]), int(row["partition"]), int(row["offset"]))
            assert record is not None
            assert replay(DeadLetter.model_validate_json(record.value).raw, str(row["id"])).accepted
        async with serving(fake, port):
            for _ in range(2):  # the second pass (another restart) changes nothing
                restarted = _client(port)
                try:
                    await _drain(DeliveryWorker(hub.log, restarted, hub.clock), hub)
                finally:
                    await restarted.close()
        assert set(fake.received) == wanted
        assert fake.requests == len(wanted)
        statuses = hub.log.query("SELECT status, COUNT(*) AS n FROM deliveries WHERE system = 'lifecare' GROUP BY status")
        counts = {str(r["status"]): int(str(r["n"])) for r in statuses}
        assert set(counts) <= {"delivered", "acknowledged"}  # kvitterade ones stay acknowledged
        assert sum(counts.values()) == len(wanted)
    finally:
        await client.close()
        hub.close()


@pytest.mark.parametrize(("behaviour", "attempts"), [
    (Behaviour(fail_with=[500, 502]), 3),
    (Behaviour(fail_with=[429], retry_after="0.05"), 2),
    (Behaviour(delay_s=0.3), 1),
])
async def test_retries_and_slow_answers(tmp_path: Path, behaviour: Behaviour, attempts: int) -> None:
    fake, port = FakeLifeCare(behaviour), free_port()
    client = _client(port)
    try:
        async with serving(fake, port):
            result = await client.deliver("/units/SE2120024803-SOC/messages", b'{"x": 1}', {"Idempotency-Key": "k1"})
        assert result.delivered
        assert result.attempts == attempts
        assert list(fake.received) == ["k1"]
    finally:
        await client.close()


async def test_409_means_already_delivered_and_4xx_fails_at_once(tmp_path: Path) -> None:
    fake, port = FakeLifeCare(), free_port()
    client = _client(port)
    try:
        async with serving(fake, port):
            first = await client.deliver("/units/U/messages", b"{}", {"Idempotency-Key": "same"})
            second = await client.deliver("/units/U/messages", b"{}", {"Idempotency-Key": "same"})
            fake.behaviour.fail_with = [400]
            refused = await client.deliver("/units/U/messages", b"{}", {"Idempotency-Key": "other"})
        assert (first.status, second.status) == (201, 409)
        assert second.delivered and second.detail.startswith("already delivered")
        assert not refused.delivered and refused.attempts == 1 and "HTTP 400" in refused.detail
        assert len(fake.received) == 1
    finally:
        await client.close()


async def test_circuit_opens_after_repeated_failures(tmp_path: Path) -> None:
    port = free_port()  # nothing listens
    client = _client(port, max_attempts=1, breaker_threshold=3, breaker_cooldown_s=60)
    try:
        results = [await client.deliver("/units/U/messages", b"{}", {"Idempotency-Key": f"k{i}"}) for i in range(5)]
        assert all(not r.delivered for r in results)
        assert client.requests == 3  # the last two never reached the network
        assert "circuit open" in results[-1].detail
    finally:
        await client.close()


def test_rendered_message_carries_the_content_and_swedish_characters(tmp_path: Path) -> None:
    from hub.adapters.lifecare.render import render

    hub = _hub(tmp_path)
    try:
        topic = next(t for t in hub.log.topics() if t.startswith("svu.deliveries.lifecare."))
        record = next(r for p in range(4) for r in hub.log.read(topic, p, 0, 10))
        event = orjson.loads(record.value)
        path, body, headers = render(event["data"], event["episodeid"])
        message = orjson.loads(body)
        assert headers["Idempotency-Key"] == message["messageId"] == event["data"]["idempotency_key"]
        assert path == f"/units/{event['data']['receiver']}/messages"
        assert message["content"] == event["data"]["content"]["data"]
    finally:
        hub.close()
