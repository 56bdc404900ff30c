"""The trust boundary on Kafka: ``hub api`` over librdkafka's mock cluster beside a Faust worker
passes the same access sweep (every operation of the OpenAPI document × every role × Luleå's
ids → nothing of Luleå's patient for Umeå or the dashboard), refuses Umeå's writes into Luleå's
episode, and writes the audit record of every body with a patient to ``svu.audit`` on Kafka."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import SecretStr

from hub.bootstrap import build_processors
from hub.domain.clock import FakeClock
from hub.domain.episode import patient_key
from hub.schemas import topics
from hub.schemas.envelope import parse_event
from hub.settings import ApiSettings, EngineSettings, HubSettings, LogSettings
from hub.streams.kafka.app import WorkerApp
from hub.streams.kafka.producer import KafkaAppender
from tests.integration.test_access import assert_nothing_of_lulea, requests
from tests.kafka.test_api_role import NOW, _until, api_role
from tests.support.kafka import MockCluster, read_all
from tests.support.trust import (
    ALERT_B,
    EP_A,
    EP_B,
    KEYS,
    NAME_A,
    PNR_A,
    SECRET,
    H,
    carries,
    identifiers,
    world,
    write_directory,
)

pytestmark = pytest.mark.slow


async def _sweep(api: httpx.AsyncClient, callers: list[str], ids: dict[str, str]) -> list[tuple[str, str, int, str]]:
    answers = []
    for method, url, media, body in requests((await api.get("/openapi.json")).json(), ids):
        for caller in callers:
            headers = {**H[caller], **({"Content-Type": media} if media else {})}
            r = await api.request(method, url, content=body or None, headers=headers)
            answers.append((caller, f"{method} {url}", r.status_code, r.text))
    return answers


async def test_the_trust_boundary_holds_on_kafka(cluster: MockCluster, tmp_path: Path) -> None:
    kafka = cluster.settings(app_id="api-access", data_dir=tmp_path / "faust")
    records = world(NOW)
    async with KafkaAppender(kafka) as appender:
        await appender.append_events([parse_event(r.value) for r in records if r.topic == topics.EVENTS])
        await appender.append([r for r in records if r.topic != topics.EVENTS])
    worker = WorkerApp(kafka, build_processors(HubSettings()), FakeClock(NOW))
    await worker.app.start()
    settings = HubSettings(kafka=kafka, log=LogSettings(path=tmp_path / "mirror.db"),
                           api=ApiSettings(host="127.0.0.1", port=0, keys=KEYS),
                           engine=EngineSettings(directory=write_directory(tmp_path),
                                                 patient_key_secret=SecretStr(SECRET)))
    try:
        async with api_role(settings) as role, httpx.AsyncClient(base_url=role.url or "") as api:
            async def visible() -> bool:
                a = await api.get(f"/episodes/{EP_A}/timeline", headers=H["umea-kommun"])
                b = await api.get(f"/alerts/{ALERT_B}", headers=H["lulea-kommun"])
                letters = await api.get("/dead-letters?source=kommun-2580", headers=H["ops-anna"])
                return a.status_code == 200 and b.status_code == 200 and bool(letters.json())

            await _until(visible, lambda: "the mirror did not bring the world")
            letter = (await api.get("/dead-letters?source=kommun-2580", headers=H["ops-anna"])).json()[0]["id"]
            ids = {"episode_id": EP_B, "alert_id": ALERT_B, "letter_id": letter, "kommunkod": "2580"}
            answers = await _sweep(api, [k.principal for k in KEYS], ids)
            assert_nothing_of_lulea(answers)
            assert ("lulea-kommun", f"GET /episodes/{EP_B}/timeline", 200) in {(c, u, s) for c, u, s, _ in answers}

            claim = {"type": "kommunklar", "message_id": "U-1", "episode_id": EP_B, "unit": "SE2120024803-SOC",
                     "time": "2026-03-02T10:00:00+01:00", "sol": "hemtjänst"}
            r = await api.post("/inbound/kommun/2480", json=claim, headers=H["umea-kommun"])
            assert r.status_code == 404
            assert_nothing_of_lulea(await _sweep(api, ["umea-kommun", "dashboard"], ids))
            read_a = await api.get(f"/episodes/{EP_A}/timeline", headers=H["umea-kommun"])
            assert carries(read_a.text, *identifiers(PNR_A, NAME_A))
    finally:
        await worker.app.stop()

    on_kafka = [orjson.loads(r.value) for r in await read_all(cluster.bootstrap, topics.EVENTS)]
    assert not [e for e in on_kafka if e.get("sourcemessageid") == "U-1"]  # the refused claim is not on Kafka
    audit = [orjson.loads(r.value) for r in await read_all(cluster.bootstrap, topics.AUDIT)]
    key_a = patient_key(PNR_A, SECRET.encode())
    reads_a = [a for a in audit if key_a in a["patient_keys"] and a["principal"] == "umea-kommun"]
    assert reads_a and all(EP_A in (a["episode_id"], *a["episode_ids"]) for a in reads_a)
    assert any(a["outcome"] == "refused" and a["huvudman"] == "kommun:2480" and a["episode_id"] == EP_B
               for a in audit)
    assert PNR_A not in str(audit)

