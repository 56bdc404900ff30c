"""Held messages end to end over MLLP: an unknown ward's messages are acknowledged AA and held,
one alert is raised for them, and when a directory reload adds the ward they are released in
arrival order per episode and give the same events as a hub that knew the ward all along. The
held store survives a restart; an operator can release a soft reason (a foreign address)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import send
from hub.api.app import ApiContext, create_app
from hub.bootstrap import Hub, build_hub, start_hl7
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.settings import ApiKey, ApiSettings, EngineSettings, HubSettings, LogSettings, Role
from tests.support.hl7 import adt

WARD = "SE2321000248-MED1"
NEW = "SE2321000248-NEW1"
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _directory(path: Path, *, with_new: bool) -> None:
    units = [("MED1", WARD)] + ([("NEW1", NEW)] if with_new else [])
    lines = ['version: "1"', "units:"]
    for code, hsa in units:
        lines += [f"  - hsa_id: {hsa}", f"    name: Avdelning {code}", "    huvudman: region",
                  "    kind: slutenvard", "    systems: [{system: lifecare, from_date: 2018-01-01}]",
                  f"    ward_codes: [{code}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _hub(folder: Path, *, with_new: bool) -> Hub:
    folder.mkdir(exist_ok=True)
    directory = folder / "units.yaml"
    if not directory.exists():
        _directory(directory, with_new=with_new)
    settings = HubSettings(log=LogSettings(path=folder / "hub.db"), engine=EngineSettings(directory=directory),
                           hl7=Hl7Settings(port=0),
                           api=ApiSettings(keys=(ApiKey(key="ops-key-0123456789", principal="ops", role=Role.OPS_ADMIN),)))
    return build_hub(settings, clock=FakeClock(AT), processors=[])


MESSAGES = [
    adt("A01", control="H1", ward="NEW1^^^NUS", visit="V1"),
    adt("A01", control="H2", ward="MED1^^^NUS", visit="V9"),
    adt("A08", control="H3", ward="NEW1^^^NUS", visit="V1"),
    adt("A01", control="H4", ward="NEW1^^^NUS", visit="V2"),
    adt("A03", control="H5", ward="NEW1^^^NUS", visit="V1", discharge="202603061500"),
]


async def _send(hub: Hub, messages: list[str]) -> list[bytes]:
    server, _ = await start_hl7(hub)
    try:
        return await send("127.0.0.1", server.port, [m.encode() for m in messages])
    finally:
        await server.close()


def _events(hub: Hub) -> list[dict[str, Any]]:
    out = [orjson.loads(r.value) for p in range(hub.log.partitions(topics.EVENTS))
           for r in hub.log.read(topics.EVENTS, p, 0, 1000)]
    return sorted(out, key=lambda e: (e["episodeid"], e["sourcemessageid"]))


def _order(hub: Hub, episode: str) -> list[str]:
    topic = topics.EVENTS
    return [orjson.loads(r.value)["sourcemessageid"] for p in range(hub.log.partitions(topic))
            for r in hub.log.read(topic, p, 0, 1000) if r.key == episode]


def _alerts(hub: Hub) -> list[dict[str, Any]]:
    topic = topics.ALERTS
    return [orjson.loads(r.value) for p in range(hub.log.partitions(topic)) for r in hub.log.read(topic, p, 0, 100)]


def test_unknown_ward_is_held_alerted_once_and_released_in_order_after_the_directory_learns_it(
        tmp_path: Path) -> None:
    known = _hub(tmp_path / "known", with_new=True)
    asyncio.run(_send(known, MESSAGES))
    expected = _events(known)
    known.close()
    assert len(expected) == 5

    hub = _hub(tmp_path / "held", with_new=False)
    acks = asyncio.run(_send(hub, MESSAGES))
    assert all(b"\rMSA|AA|" in a for a in acks)  # accept policy: stored, so acknowledged
    assert [e["sourcemessageid"] for e in _events(hub)] == ["COSMIC|NUS|H2"]
    assert hub.held is not None
    (group,) = hub.held.counts()
    assert (group["reason"], group["subject"], group["count"]) == ("ward_unknown", "NEW1", 4)
    raised = [a for a in _alerts(hub) if a["type"] == "se.svu.alert_raised.v1"]
    assert len(raised) == 1 and "NEW1" in raised[0]["data"]["detail"]
    assert "191212121212" not in orjson.dumps(raised).decode()
    hub.close()

    hub = _hub(tmp_path / "held", with_new=False)  # held messages survive a restart
    assert hub.held is not None and hub.held.total() == 4
    asyncio.run(_send(hub, []))  # the MLLP endpoint registers its re-processing
    directory = tmp_path / "held" / "units.yaml"
    _directory(directory, with_new=True)
    os.utime(directory, ns=(1, 1_000_000_000))
    assert hub.resources.directory.reload_if_changed()
    assert hub.held.total() == 0
    assert _events(hub) == expected  # the same events as if the ward had been known
    assert _order(hub, "NUS-V1") == ["COSMIC|NUS|H1", "COSMIC|NUS|H3", "COSMIC|NUS|H5"]
    kinds = [a["type"].split(".")[2] for a in _alerts(hub)]
    assert kinds == ["alert_raised", "alert_resolved"]
    hub.close()


def test_a_later_message_of_a_held_episode_waits_behind_it(tmp_path: Path) -> None:
    hub = _hub(tmp_path / "h", with_new=False)
    # the admission is held (unknown ward); the transfer to a known ward must not overtake it
    asyncio.run(_send(hub, [adt("A01", control="W1", ward="NEW1^^^NUS", visit="V1"),
                            adt("A02", control="W2", ward="MED1^^^NUS", visit="V1")]))
    assert _events(hub) == []
    assert hub.held is not None
    assert sorted(g["reason"] for g in hub.held.counts()) == ["episode_waiting", "ward_unknown"]
    _directory(tmp_path / "h" / "units.yaml", with_new=True)
    os.utime(tmp_path / "h" / "units.yaml", ns=(1, 1_000_000_000))
    asyncio.run(_send(hub, []))
    hub.resources.directory.reload_if_changed()
    assert _order(hub, "NUS-V1") == ["COSMIC|NUS|W1", "COSMIC|NUS|W2"]
    hub.close()


def test_operator_lists_counts_and_releases_a_foreign_address(tmp_path: Path) -> None:
    hub = _hub(tmp_path / "f", with_new=False)
    foreign = adt("A01", control="F1", ward="MED1^^^NUS", visit="V7",
                  address="Storgata 1^^Oslo^^0150^NO^H")
    acks = asyncio.run(_send(hub, [foreign]))
    assert b"\rMSA|AA|F1" in acks[0]
    ctx = ApiContext(hub.settings, hub.log, hub.clock, held=hub.held)
    asyncio.run(_send(hub, []))
    api = TestClient(create_app(ctx))
    auth = {"Authorization": "Bearer ops-key-0123456789"}
    response = api.get("/held", headers=auth)
    assert response.status_code == 200, response.text
    counts = response.json()
    assert [(c["reason"], c["count"]) for c in counts] == [("address_foreign", 1)]
    rows = api.get("/held/messages", headers=auth).json()
    assert rows[0]["episode_id"] == "NUS-V7" and "Oslo" not in str(rows)
    assert api.post("/held/release", json={}, headers=auth).json()["released"] == 0  # soft reason stays
    assert api.post("/held/release", json={"force": True}, headers=auth).json()["released"] == 1
    (event,) = _events(hub)
    assert event["data"]["patient"].get("address") is None and event["episodeid"] == "NUS-V7"
    assert api.get("/held", headers=auth).json() == []
    hub.close()
