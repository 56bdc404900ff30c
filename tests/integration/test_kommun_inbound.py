"""Kommun systems' JSON and CSV, mapped per kommun: stored, then 202; bad input 422 naming the
field (and row), kept in the dead-letter store; Swedish characters survive. Episodes exist only as
the region's data establishes them (``tests.support.trust``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.adapters.kommun.mapping import KommunMapping
from hub.api.app import ApiContext, create_app
from hub.bootstrap import Hub, build_hub
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role
from tests.samples import SOC, SOC_LULEA
from tests.support.trust import admit, write_directory

TRESERVA = KommunMapping(type_field="Typ", types={"KV": "kvittering", "KK": "kommunklar", "PU": "planeringsunderlag"},
                         fields={"message_id": "Id", "episode_id": "Vardtillfalle", "unit": "Enhet", "time": "Tid",
                                 "acknowledged_message": "Avser", "sol": "SoL", "hsl": "HSL", "section": "Avsnitt",
                                 "answer": "Svar", "text": "Text", "colour": "Farg"},
                         csv_delimiter=";", list_separator="|")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, Hub]]:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), kommun_mappings={"2480": TRESERVA},
                           engine=EngineSettings(directory=write_directory(tmp_path)),
                           api=ApiSettings(keys=(
                               ApiKey(key=SecretStr("umea"), principal="umea", role=Role.MUNICIPALITY, municipality="2480"),
                               ApiKey(key=SecretStr("lulea"), principal="lulea", role=Role.MUNICIPALITY, municipality="2580"))))
    hub = build_hub(settings, clock=FakeClock(dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)))
    admit(hub.ingestor, "VLL-2026-000001", "2480", seq=1)
    admit(hub.ingestor, "VLL-2026-000002", "2580", seq=2)
    hub.runtime.run_until_idle()
    with TestClient(create_app(ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor,
                                          hub.resources))) as c:
        yield c, hub
    hub.close()


def _events(hub: Hub) -> list[dict]:
    """The events the kommuner sent (the region's admissions left out)."""
    return [e for p in range(4) for r in hub.log.read(topics.EVENTS, p, 0, 100)
            if (e := orjson.loads(r.value))["source"].startswith("/kommun/")]


def test_csv_with_the_kommuns_own_names(client: tuple[TestClient, Hub]) -> None:
    c, hub = client
    body = ("Typ;Id;Vardtillfalle;Enhet;Tid;Avser;SoL;HSL;Avsnitt;Svar;Text;Farg\n"
            f"KV;T-1;VLL-2026-000001;{SOC};2026-03-02T09:05:00+01:00;VLL-2026-000001-N;;;;;;\n"
            f"KK;T-2;VLL-2026-000001;{SOC};2026-03-04T13:00:00+01:00;;hemtjänst|trygghetslarm;såromläggning;;;;\n"
            f"PU;T-3;VLL-2026-000001;{SOC};2026-03-03T10:00:00+01:00;;;;adl;besvarad;Behöver stöd vid påklädning;gul\n")
    r = c.post("/inbound/kommun/2480", content=body.encode(), headers={"Authorization": "Bearer umea",
                                                                       "Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 3
    by_type = {e["type"]: e for e in _events(hub)}
    ready = by_type["se.svu.municipality_ready.v1"]["data"]
    assert ready["sol_services"] == ["hemtjänst", "trygghetslarm"]
    assert ready["hsl_services"] == ["såromläggning"]
    assert by_type["se.svu.planning_basis_updated.v1"]["data"]["sections"][0]["text"] == "Behöver stöd vid påklädning"
    assert by_type["se.svu.message_acknowledged.v1"]["source"] == "/kommun/2480"


def test_bad_rows_are_named_and_dead_lettered(client: tuple[TestClient, Hub]) -> None:
    c, hub = client
    body = ("Typ;Id;Vardtillfalle;Enhet;Tid;Avser\n"
            f"KV;T-1;VLL-2026-000001;{SOC};2026-03-02T09:05:00+01:00;N1\n"
            f"KV;T-2;VLL-2026-000001;NOT-HSA;2026-03-02T09:05:00+01:00;N1\n")
    r = c.post("/inbound/kommun/2480", content=body.encode(), headers={"Authorization": "Bearer umea",
                                                                       "Content-Type": "text/csv"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "row 2: unit"
    assert _events(hub) == []  # all or nothing: the file is refused whole
    assert hub.log.count("svu.dlq.kommun-2480") == 1


def test_json_with_the_default_mapping_and_kommun_scope(client: tuple[TestClient, Hub]) -> None:
    c, hub = client
    record = {"type": "kvittering", "message_id": "J-1", "episode_id": "VLL-2026-000002", "unit": SOC_LULEA,
              "time": "2026-03-02T09:00:00+01:00", "acknowledged_message": "N2"}
    assert c.post("/inbound/kommun/2580", json=record, headers={"Authorization": "Bearer lulea"}).status_code == 202
    assert c.post("/inbound/kommun/2480", json=record, headers={"Authorization": "Bearer lulea"}).status_code == 403
    # in the name of Umeå's unit: refused, whatever the path
    assert c.post("/inbound/kommun/2580", json={**record, "unit": SOC},
                  headers={"Authorization": "Bearer lulea"}).status_code == 403
    bad = c.post("/inbound/kommun/2580", json={**record, "type": "fax"}, headers={"Authorization": "Bearer lulea"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "type"
    assert c.post("/inbound/kommun/2580", content=b"{nope", headers={"Authorization": "Bearer lulea",
                                                                      "Content-Type": "application/json"}).status_code == 422
    assert len(_events(hub)) == 1


def test_malformed_csv_is_a_422(client: tuple[TestClient, Hub]) -> None:
    c, _ = client
    for body in (b"\r0", b"\xff\xfe", b'Typ;Id\n"unclosed'):
        r = c.post("/inbound/kommun/2480", content=body, headers={"Authorization": "Bearer umea",
                                                                   "Content-Type": "text/csv"})
        assert r.status_code == 422, body


async def test_csv_file_drop_per_kommun(tmp_path: Path) -> None:
    import asyncio

    from hub.streams import kommun_files

    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           engine=EngineSettings(directory=write_directory(tmp_path)))
    hub = build_hub(settings, clock=FakeClock(dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)))
    admit(hub.ingestor, "VLL-2026-000003", "2480")
    hub.runtime.run_until_idle()
    inbox = tmp_path / "kommun"
    (inbox / "2480").mkdir(parents=True)
    header = "Typ;Id;Vardtillfalle;Enhet;Tid;Avser\n"
    (inbox / "2480" / "ok.csv").write_text(header + f"KV;F-1;VLL-2026-000003;{SOC};2026-03-02T09:05:00+01:00;N3\n",
                                           encoding="utf-8")
    (inbox / "2480" / "bad.csv").write_text(header + "KV;F-2;VLL-2026-000003;;2026-03-02T09:05:00+01:00;N3\n",
                                            encoding="utf-8")
    stop = asyncio.Event()
    task = asyncio.create_task(kommun_files.watch(inbox, {"2480": TRESERVA}, hub.log, hub.clock, stop, every=0.05,
                                                  **{**kommun_files.options(settings, hub.resources), "settle_s": 0}))
    for _ in range(100):
        if not list((inbox / "2480").glob("*.csv")):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert (inbox / "2480" / "processed" / "ok.csv").exists()
    assert "row 1: Enhet" in (inbox / "2480" / "rejected" / "bad.csv.reason.txt").read_text()
    assert hub.log.count(topics.EVENTS) == 2  # the region's admission and the file's kvittering
    assert hub.log.count("svu.dlq.kommun-2480") == 1
    hub.close()
