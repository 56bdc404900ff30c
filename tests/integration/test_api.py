"""The ops API: health, readiness, the timeline read model scoped per huvudman, and the audit log."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.api.app import ApiContext, create_app
from hub.domain.clock import FakeClock
from hub.domain.timeline import TimelineProcessor
from hub.schemas import topics
from hub.schemas.payloads import MessageAcknowledged, PatientAdmitted
from hub.settings import ApiKey, ApiSettings, HubSettings, Role, RuntimeSettings
from hub.streams.ingest import Ingestor
from hub.streams.projections import EpisodePartiesProjection
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog
from tests.samples import PNR, SOC, WARD, event, patient, t

KEYS = (
    ApiKey(key=SecretStr("admin-key"), principal="ops-anna", role=Role.OPS_ADMIN),
    ApiKey(key=SecretStr("umea-key"), principal="umea-kommun", role=Role.MUNICIPALITY, municipality="2480"),
    ApiKey(key=SecretStr("lulea-key"), principal="lulea-kommun", role=Role.MUNICIPALITY, municipality="2580"),
    ApiKey(key=SecretStr("dash-key"), principal="dashboard", role=Role.DASHBOARD),
)
EPISODE = "VLL-2026-000001"


@pytest.fixture
def client(sqlite_log: SqliteLog, clock: FakeClock) -> Iterator[TestClient]:
    Ingestor(sqlite_log, clock).submit_events([
        event(PatientAdmitted(patient=patient("2480"), ward=WARD, admitted_at=t(0)), EPISODE, seq=1),
        event(MessageAcknowledged(message_id="N1", unit=SOC, acknowledged_at=t(9)), EPISODE, seq=2),
    ])
    runtime = EmbeddedRuntime(sqlite_log, [TimelineProcessor()], clock, projections=[EpisodePartiesProjection()])
    runtime.run_until_idle()
    settings = HubSettings(api=ApiSettings(keys=KEYS), runtime=RuntimeSettings(max_lag=5))
    with TestClient(create_app(ApiContext(settings, sqlite_log, clock, runtime))) as c:
        yield c


def _audit(log: SqliteLog) -> list[dict]:
    return [orjson.loads(r.value) for p in range(log.partitions(topics.AUDIT))
            for r in log.read(topics.AUDIT, p, 0, 1000)]


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    body = client.get("/ready").json()
    assert body["status"] == "ready"
    assert body["checks"]["processors"]["lag"] == {"timeline": 0, "episode-parties-table": 0}


def test_ready_fails_when_processors_lag(client: TestClient, sqlite_log: SqliteLog, clock: FakeClock) -> None:
    Ingestor(sqlite_log, clock).submit_events(
        [event(MessageAcknowledged(message_id=f"N{i}", unit=SOC, acknowledged_at=t(9)), EPISODE, seq=10 + i)
         for i in range(6)])
    r = client.get("/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["processors"]["lag"] == {"timeline": 6, "episode-parties-table": 6}


def test_timeline_needs_a_key(client: TestClient) -> None:
    r = client.get(f"/episodes/{EPISODE}/timeline")
    assert r.status_code == 401
    assert client.get(f"/episodes/{EPISODE}/timeline", headers={"X-API-Key": "wrong"}).status_code == 401


def test_ops_and_the_patients_kommun_read_the_timeline_and_each_read_is_audited(
        client: TestClient, sqlite_log: SqliteLog) -> None:
    for key in ("admin-key", "umea-key"):
        r = client.get(f"/episodes/{EPISODE}/timeline", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
        body = r.json()
        assert [e["type"] for e in body["entries"]] == ["se.svu.patient_admitted.v1",
                                                        "se.svu.message_acknowledged.v1"]
    audit = _audit(sqlite_log)
    assert [(a["principal"], a["episode_id"], a["outcome"]) for a in audit] == [
        ("ops-anna", EPISODE, "read"), ("umea-kommun", EPISODE, "read")]
    assert audit[0]["endpoint"] == "GET /episodes/{episode_id}/timeline"
    assert PNR not in str(audit)


def test_another_kommun_gets_404_not_403(client: TestClient, sqlite_log: SqliteLog) -> None:
    r = client.get(f"/episodes/{EPISODE}/timeline", headers={"Authorization": "Bearer lulea-key"})
    assert r.status_code == 404
    unknown = client.get("/episodes/VLL-2026-999999/timeline", headers={"Authorization": "Bearer lulea-key"})
    assert unknown.status_code == 404
    assert r.json() == unknown.json()  # indistinguishable from an episode that does not exist
    assert client.get(f"/episodes/{EPISODE}/timeline",
                      headers={"Authorization": "Bearer dash-key"}).status_code == 404
    assert [a["outcome"] for a in _audit(sqlite_log)] == ["not_found"] * 3


def test_an_episode_id_with_a_personnummer_is_refused_by_name(client: TestClient) -> None:
    r = client.get("/episodes/bad id!/timeline", headers={"Authorization": "Bearer admin-key"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "path.episode_id"
