"""A rebuild never publishes again what was published: `hub replay` then running on gives no new
delivery, no duplicate alert record and no file written twice; an interrupted rebuild resumes
without publishing either; a delivered id is never sent again; the state cache stays within its
byte budget and gives the same outputs as an unbounded one."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from importlib.resources import files
from pathlib import Path

import orjson
from typer.testing import CliRunner

from hub.bootstrap import Hub, build_hub
from hub.cli import app
from hub.demo.simulator import Simulator
from hub.domain.clock import FakeClock
from hub.schemas import topics
from hub.schemas.payloads import PatientAdmitted
from hub.settings import EngineSettings, HubSettings, LogSettings
from hub.streams.delivery import DeliveryWorker, PratorDrop
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog
from tests.conftest import T0
from tests.samples import WARD, event, patient, t
from tests.support.processors import CountingProcessor, DeadlineProcessor

START = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
NOW = dt.datetime.now(dt.UTC)


def _values(log: SqliteLog, prefix: str) -> list[dict]:
    out = []
    for topic in [n for n in log.topics() if n == prefix or n.startswith(prefix + ".")]:
        for part in range(log.partitions(topic)):
            out += [orjson.loads(r.value) for r in log.read(topic, part, 0, 1_000_000)]
    return out


def _settings(tmp_path: Path) -> HubSettings:
    directory = Path(str(files("hub.demo") / "data" / "directory-vasterbotten.yaml"))
    return HubSettings(log=LogSettings(path=tmp_path / "hub.db"), engine=EngineSettings(directory=directory))


async def _deliver(hub: Hub, outbox: Path) -> DeliveryWorker:
    worker = DeliveryWorker(hub.log, PratorDrop(outbox), hub.clock, system="prator")
    while await worker.run_once():
        pass
    return worker


async def test_replay_then_run_gives_no_new_delivery_and_no_duplicate_alert(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    outbox = tmp_path / "outbox"
    # the live hub an hour ahead of the replay's system clock: deadlines it fired are not yet
    # due in the replay, and fall due again when the hub runs on after it
    clock = FakeClock(NOW + dt.timedelta(hours=1))
    start = (NOW - dt.timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    hub = build_hub(settings, clock=clock)
    hub.ingestor.submit_events(Simulator(start=start, episodes=10, seed=33, bad_share=0).events())
    hub.runtime.run_until_idle()
    first = await _deliver(hub, outbox)
    files_before = sorted(p.name for p in outbox.rglob("*.xml"))
    deliveries_before = len(_values(hub.log, "svu.deliveries"))
    alerts_before = [a["id"] for a in _values(hub.log, topics.ALERTS)]
    alert_rows = hub.log.query("SELECT COUNT(*) AS n FROM alerts")[0]["n"]
    assert first.delivered > 0 and alerts_before
    hub.close()

    result = CliRunner().invoke(app, ["replay", "--data", str(settings.log.path)],
                                env={"HUB_ENGINE__DIRECTORY": str(settings.engine.directory)})
    assert result.exit_code == 0, result.output
    assert "0 new" in result.output

    clock.advance(dt.timedelta(hours=2))
    hub = build_hub(settings, clock=clock)  # `hub run` again: processors and delivery worker
    hub.runtime.run_until_idle()
    again = await _deliver(hub, outbox)
    assert again.delivered == 0 and again.failed == 0
    assert len(_values(hub.log, "svu.deliveries")) == deliveries_before
    alerts_after = [a["id"] for a in _values(hub.log, topics.ALERTS)]
    assert alerts_after == alerts_before
    assert not [i for i, n in Counter(alerts_after).items() if n > 1]
    assert hub.log.query("SELECT COUNT(*) AS n FROM alerts")[0]["n"] == alert_rows
    assert sorted(p.name for p in outbox.rglob("*.xml")) == files_before
    hub.close()


def test_a_rebuild_verifies_instead_of_appending_and_new_input_is_processed(sqlite_log: SqliteLog,
                                                                             clock: FakeClock) -> None:
    evs = [event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), f"VLL-2026-{i:06d}", seq=i)
           for i in range(1, 31)]
    Ingestor(sqlite_log, clock).submit_events(evs[:20])
    procs = [CountingProcessor(), DeadlineProcessor(dt.timedelta(hours=1))]
    EmbeddedRuntime(sqlite_log, procs, clock).run_until_idle()
    clock.advance(dt.timedelta(hours=2))
    EmbeddedRuntime(sqlite_log, procs, clock).run_until_idle()
    outputs = sqlite_log.count(CountingProcessor.OUTPUT)
    fired = sqlite_log.count(DeadlineProcessor.OUTPUT)
    assert (outputs, fired) == (20, 20)

    clock.advance(dt.timedelta(hours=5))  # a later clock: the outputs' bytes differ in time only
    rebuild = EmbeddedRuntime(sqlite_log, procs, clock, batch_size=3)
    rebuild.reset()
    rebuild.run_once()  # interrupted: a new runtime (a restart) goes on with the rebuild
    EmbeddedRuntime(sqlite_log, procs, clock, batch_size=3).run_until_idle()
    assert sqlite_log.count(CountingProcessor.OUTPUT) == 20
    assert sqlite_log.count(DeadlineProcessor.OUTPUT) == 20
    assert rebuild.verify_stats.new == 0 and rebuild.verify_stats.verified > 0

    Ingestor(sqlite_log, clock).submit_events(evs[20:])  # past the horizon: published as usual
    EmbeddedRuntime(sqlite_log, procs, clock).run_until_idle()
    assert sqlite_log.count(CountingProcessor.OUTPUT) == 30


def test_the_state_cache_stays_within_its_byte_budget(tmp_path: Path, clock: FakeClock) -> None:
    evs = [event(PatientAdmitted(patient=patient(), ward=WARD, admitted_at=t(0)), f"VLL-2026-{i:06d}", seq=i)
           for i in range(1, 401)]
    outs = []
    for name, budget in (("small", 8_000), ("large", 1 << 30)):
        with SqliteLog(tmp_path / f"{name}.db", clock_ms=lambda: int(T0.timestamp() * 1000)) as log:
            Ingestor(log, clock).submit_events(evs)
            rt = EmbeddedRuntime(log, [CountingProcessor()], clock, batch_size=50, cache_bytes=budget)
            rt.run_until_idle()
            entries, used = rt.cache_usage()["counting"]
            if name == "small":
                assert used <= budget and 0 < entries < 400
            else:
                assert entries == 400
            outs.append(sorted((k, v) for k, v in log.scan_states("counting")))
    assert outs[0] == outs[1]


async def test_a_delivered_id_is_never_sent_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    hub = build_hub(settings, clock=FakeClock(START + dt.timedelta(days=30)))
    hub.ingestor.submit_events(Simulator(start=START, episodes=4, seed=5, bad_share=0).events())
    hub.runtime.run_until_idle()
    sent: list[str] = []
    target = PratorDrop(tmp_path / "outbox")

    async def counting(data: dict, episode_id: str):  # type: ignore[no-untyped-def]
        sent.append(data["delivery_id"])
        return await target(data, episode_id)

    worker = DeliveryWorker(hub.log, counting, hub.clock, system="prator")
    while await worker.run_once():
        pass
    assert sent
    # the same requests appended once more (a hand-over applied twice, a foreign rebuild)
    requests = [e for e in _values(hub.log, "svu.deliveries.prator") if e["type"] == "se.svu.delivery_requested.v1"]
    from hub.streams.log import Append

    hub.log.append([Append(topics.deliveries("prator", e["data"]["receiver"]), e["episodeid"],
                           orjson.dumps(e)) for e in requests])
    before = list(sent)
    while await worker.run_once():
        pass
    assert sent == before
    hub.close()
