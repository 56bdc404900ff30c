"""An episode that crosses a unit's cutover from Prator to LifeCare ends up complete on the new
system: later meddelanden are routed there, the earlier ones are handed over once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from hub.adapters.lifecare.config import LifeCareSettings
from hub.adapters.lifecare.transport import LifeCareClient
from hub.bootstrap import Hub, build_hub
from hub.cli import app
from hub.domain.clock import FakeClock
from hub.settings import EngineSettings, HubSettings, LogSettings
from hub.streams import cutover
from hub.streams.delivery import DeliveryWorker
from tests.samples import HC, SOC, WARD
from tests.support.episodes import NEEDS_C, Episode, local
from tests.support.fake_lifecare import FakeLifeCare, free_port, serving

DIRECTORY = f"""\
units:
  - hsa_id: {WARD}
    name: Medicin 1
    huvudman: region
    kind: slutenvard
    municipality: "2480"
    systems: [{{system: lifecare, from_date: 2018-01-01}}]
  - hsa_id: {HC}
    name: Hälsocentralen Umeå
    huvudman: region
    kind: oppenvard
    municipality: "2480"
    systems: [{{system: lifecare, from_date: 2018-01-01}}]
  - hsa_id: {SOC}
    name: Umeå socialtjänst
    huvudman: "2480"
    kind: socialtjanst
    municipality: "2480"
    handover_on_cutover: true
    systems:
      - {{system: prator, from_date: 2018-01-01}}
      - {{system: lifecare, from_date: 2026-03-04}}
"""


def _hub_and_notice(tmp_path: Path) -> tuple[Hub, Episode]:
    """A hub with the cutover directory, and an episode whose notice went to SOC on 2 March."""
    (tmp_path / "units.yaml").write_text(DIRECTORY, encoding="utf-8")
    settings = HubSettings(log=LogSettings(path=tmp_path / "hub.db"),
                           engine=EngineSettings(directory=tmp_path / "units.yaml"))
    hub = build_hub(settings, clock=FakeClock(local(2026, 3, 6).astimezone(dt.UTC)))
    ep = Episode().admit(local(2026, 3, 2, 8), needs=NEEDS_C).notice(local(2026, 3, 2, 12), needs=NEEDS_C,
                                                                     recipients=(SOC,))
    return hub, ep


async def test_episode_crossing_a_cutover_is_complete_on_the_new_system(tmp_path: Path) -> None:
    hub, ep = _hub_and_notice(tmp_path)
    ep.ready(local(2026, 3, 5, 10))
    hub.ingestor.submit_events(ep.events)
    hub.runtime.run_until_idle()
    rows = hub.log.query("SELECT system, message_type FROM deliveries WHERE receiver = ? ORDER BY requested_at", (SOC,))
    assert [(r["system"], r["message_type"]) for r in rows] == [("prator", "admission_notice_sent"),
                                                               ("lifecare", "ready_for_discharge")]
    directory = hub.resources.directory.current()
    assert directory is not None
    planned = cutover.plan(hub.log, directory, SOC, dt.date(2026, 3, 4))
    assert (planned.old_system, planned.new_system, planned.handover) == ("prator", "lifecare", True)
    assert [(h.episode_id, [m["message_type"] for m in h.messages]) for h in planned.episodes] == [
        (ep.id, ["admission_notice_sent"])]
    assert cutover.apply(hub.log, planned, hub.clock.now()) == 1
    assert cutover.plan(hub.log, directory, SOC, dt.date(2026, 3, 4)).episodes == []  # applied once
    fake, port = FakeLifeCare(), free_port()
    client = LifeCareClient(LifeCareSettings(enabled=True, base_url=f"http://127.0.0.1:{port}"))
    try:
        async with serving(fake, port):
            worker = DeliveryWorker(hub.log, client, hub.clock)
            while await worker.run_once():
                pass
    finally:
        await client.close()
    on_new = sorted((m["messageType"], m["handover"]) for m in fake.received.values() if m["unit"] == SOC)
    assert on_new == [("admission_notice_sent", True), ("ready_for_discharge", False)]
    hub.close()


def test_cutover_report_command(tmp_path: Path) -> None:
    (tmp_path / "units.yaml").write_text(DIRECTORY, encoding="utf-8")
    result = CliRunner().invoke(app, ["cutover-report", "--unit", SOC, "--date", "2026-03-04",
                                      "--data", str(tmp_path / "hub.db")],
                                env={"HUB_ENGINE__DIRECTORY": str(tmp_path / "units.yaml")})
    assert result.exit_code == 0, result.output
    assert '"from": "prator"' in result.output and '"to": "lifecare"' in result.output


def test_a_receivers_kvittering_marks_its_delivery_acknowledged(tmp_path: Path) -> None:
    from hub.schemas.payloads import MessageAcknowledged

    hub, ep = _hub_and_notice(tmp_path)
    ep.add(MessageAcknowledged(message_id=f"{ep.id}-N", unit=SOC, acknowledged_at=local(2026, 3, 2, 13)),
           local(2026, 3, 2, 13), source="/prator")
    hub.ingestor.submit_events(ep.events)
    hub.runtime.run_until_idle()
    rows = hub.log.query("SELECT status, detail FROM deliveries WHERE receiver = ?", (SOC,))
    assert [(r["status"], r["detail"]) for r in rows] == [("acknowledged", "kvittering received")]
    hub.close()
