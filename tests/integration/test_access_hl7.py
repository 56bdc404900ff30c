"""The HL7 path applies the door's identity rule: an ADT message that names another patient for
a visit the region already gave a patient is answered AE naming PID-3, dead-lettered and raised
as a data-quality alert; the episode is not merged. The same patient again is accepted."""

from __future__ import annotations

from pathlib import Path

import orjson

from hub.adapters.hl7.config import Hl7Settings
from hub.adapters.hl7.transport import send
from hub.bootstrap import build_hub, start_hl7
from hub.schemas import topics
from hub.settings import HubSettings, LogSettings
from hub.streams.clock import SystemClock
from tests.support.hl7 import WARDS, adt

OTHER = "195502021230^^^&1.2.752.129.2.1.3.1&ISO^NNSWE"


def _msa(ack: bytes) -> list[str]:
    return next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")


async def test_an_hl7_identity_conflict_is_refused_not_merged(tmp_path: Path) -> None:
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"), hl7=Hl7Settings(port=0, wards=WARDS))
    hub = build_hub(settings, clock=SystemClock())
    server, _ = await start_hl7(hub)
    try:
        (first,) = await send("127.0.0.1", server.port, [adt(control="M1").encode()])
        assert _msa(first)[1] == "AA"
        hub.runtime.run_until_idle()  # the region's patient of the visit is now a fact of the hub
        other, same = await send("127.0.0.1", server.port, [adt("A08", control="M2", pid3=OTHER).encode(),
                                                             adt("A08", control="M3").encode()])
        assert _msa(other)[1] == "AE" and "PID^1^3" in other.decode()
        assert "195502021230" not in other.decode() and "19550202" not in other.decode()
        assert _msa(same)[1] == "AA"
        hub.runtime.run_until_idle()
        assert hub.log.count(topics.dlq("hl7")) == 1
        alerts = hub.log.query("SELECT rule, episode_id FROM alerts WHERE rule = 'identity_conflict'")
        assert len(alerts) == 1
        events = [orjson.loads(r.value) for p in range(4) for r in hub.log.read(topics.EVENTS, p, 0, 100)]
        assert sorted(e["sourcemessageid"] for e in events) == ["COSMIC|NUS|M1", "COSMIC|NUS|M3"]
        patients = hub.log.query("SELECT value FROM episode_parties WHERE basis = 'patient'")
        assert [p["value"] for p in patients] == ["191212121212"]
    finally:
        await server.close()
        hub.close()
