"""The composition root: builds the hub's parts from settings. Nothing else wires components,
and nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from hub.adapters.hl7.transport import MllpServer
from hub.adapters.lifecare.transport import LifeCareClient
from hub.domain.clock import Clock
from hub.domain.engine import EpisodeEngine
from hub.domain.processor import Processor
from hub.domain.readmission import ReadmissionProcessor
from hub.domain.rules import BUILTIN_PACKS, RulePack, builtin_pack, parse_rule_pack
from hub.domain.stats import StatsProcessor
from hub.domain.timeline import TimelineProcessor
from hub.errors import ConfigurationError
from hub.settings import HubSettings
from hub.streams import hl7_files, kommun_files, prator_files
from hub.streams.appender import GroupCommitter
from hub.streams.clock import SystemClock
from hub.streams.delivery import DeliveryWorker, PratorDrop, PratorHttp, delivery_replayer
from hub.streams.directory import DirectoryHolder
from hub.streams.hl7_ingest import Hl7Ingest
from hub.streams.ingest import Ingestor
from hub.streams.projections import PROJECTIONS
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog

if TYPE_CHECKING:
    from hub.streams.kafka.app import WorkerApp

log = logging.getLogger("hub")

@dataclass
class Resources:
    """Shared, reloadable data the processors use: the rule pack and the unit directory."""

    pack: RulePack
    directory: DirectoryHolder


def load_resources(settings: HubSettings) -> Resources:
    """Rule pack (shipped or a file) and unit directory from settings; ConfigurationError if bad."""
    name = settings.engine.rule_pack
    if name in BUILTIN_PACKS:
        pack = builtin_pack(name)
    else:
        path = Path(name)
        try:
            pack = parse_rule_pack(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise ConfigurationError(f"cannot read the rule pack: {exc.strerror}", file=name) from None
    return Resources(pack, DirectoryHolder(settings.engine.directory))


def _engine(settings: HubSettings, resources: Resources) -> Processor[Any, Any]:
    secret = settings.engine.patient_key_secret.get_secret_value().encode()
    return EpisodeEngine(resources.pack, resources.directory.current, secret)


def engine_for(settings: HubSettings) -> EpisodeEngine:
    """The process engine alone (for simulations and reports)."""
    engine = _engine(settings, load_resources(settings))
    assert isinstance(engine, EpisodeEngine)
    return engine


ProcessorFactory = Callable[[HubSettings, Resources], Processor[Any, Any]]

PROCESSORS: dict[str, ProcessorFactory] = {
    TimelineProcessor.NAME: lambda settings, resources: TimelineProcessor(),
    EpisodeEngine.NAME: _engine,
    ReadmissionProcessor.NAME: lambda settings, resources: ReadmissionProcessor(),
    StatsProcessor.NAME: lambda settings, resources: StatsProcessor(),
}
"""Every processor the embedded runtime runs, by name. Register new ones here."""


def build_processors(settings: HubSettings, names: list[str] | None = None,
                     resources: Resources | None = None) -> list[Processor[Any, Any]]:
    """The registered processors (all, or those named), built from settings."""
    resources = resources or load_resources(settings)
    return [PROCESSORS[n](settings, resources) for n in (names if names is not None else list(PROCESSORS))]


def build_worker(settings: HubSettings, *, clock: Clock | None = None,
                 processors: list[str] | None = None) -> WorkerApp:
    """The Faust worker of ``hub worker``: every registered processor as an agent on Kafka.
    Faust is imported here, not at import time of the hub."""
    from hub.streams.kafka.app import WorkerApp

    return WorkerApp(settings.kafka, build_processors(settings, processors), clock or SystemClock())


@dataclass
class Hub:
    """One embedded hub: log, ingest and runtime over one clock."""

    settings: HubSettings
    clock: Clock
    log: SqliteLog
    ingestor: Ingestor
    runtime: EmbeddedRuntime
    resources: Resources
    mllp_port: int | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.log.close()


def build_hub(settings: HubSettings, *, clock: Clock | None = None,
              processors: list[str] | None = None) -> Hub:
    """Open the log and build ingest and runtime with the registered processors."""
    clock = clock or SystemClock()
    resources = load_resources(settings)
    sqlite = SqliteLog(
        settings.log.path,
        default_partitions=settings.log.partitions,
        durability=settings.log.durability,
        clock_ms=lambda: int(clock.now().timestamp() * 1000),
    )
    runtime = EmbeddedRuntime(
        sqlite,
        build_processors(settings, processors, resources),
        clock,
        batch_size=settings.runtime.batch_size,
        projections=[cls() for cls in PROJECTIONS] if processors is None else [],
    )
    return Hub(settings, clock, sqlite, Ingestor(sqlite, clock), runtime, resources)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the hub's own event loop: the hub handles SIGINT/SIGTERM itself and stops
    the API, the runtime and the feeds together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def watch_resources(resources: Resources, stop: asyncio.Event, *, every: float = 2.0) -> None:
    """Reload the unit directory when its file changes; a bad file is reported and ignored."""
    directory = resources.directory
    while not stop.is_set():
        try:
            if directory.reload_if_changed():
                log.warning("unit directory reloaded from %s (%d units)",
                            directory.loaded_from, len(directory.current() or ()))
        except ConfigurationError as exc:
            log.error("unit directory not reloaded, the previous one stays in force: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def ward_lookup(settings: HubSettings, resources: Resources) -> Callable[[str, str | None], str | None]:
    """PV1-3 → HSA-id: the unit directory first, then the adapter's own mapping."""
    wards = settings.hl7.wards

    def lookup(code: str, facility: str | None) -> str | None:
        directory = resources.directory.current()
        found = directory.ward_for_code(code, facility) if directory is not None else None
        return found or wards.get(code)

    return lookup


async def start_hl7(hub: Hub) -> tuple[MllpServer, Hl7Ingest]:
    """The MLLP endpoint with durable, group-committed acknowledgements."""
    committer = GroupCommitter(hub.log)
    ingest = Hl7Ingest(committer, ward_lookup(hub.settings, hub.resources), hub.clock,
                       other_events=hub.settings.hl7.other_events)

    async def handle(raw: bytes, connection: str) -> bytes | None:
        reply = await ingest.handle(raw, connection)
        hub.runtime.notify()
        return reply

    server = MllpServer(hub.settings.hl7, handle, ingest.reject)
    await server.start()
    return server, ingest


async def serve(hub: Hub, *, extra: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] | None = None,
                on_started: Callable[[str], None] | None = None) -> None:
    """Run the API and the runtime (and any extra tasks, e.g. the demo feed) until SIGINT/SIGTERM."""
    from hub.api.app import ApiContext, create_app, tls_options
    from hub.api.metrics import MllpCollector

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    replayers = {}
    collectors: list[Any] = []
    mllp = None
    if hub.settings.hl7.enabled:
        mllp, hl7 = await start_hl7(hub)
        replayers["hl7"] = hl7.replayer(hub.log)
        hub.mllp_port = mllp.port
        collectors.append(MllpCollector(mllp, hl7))
        if hub.settings.hl7.drop_directory is not None:
            folder = hub.settings.hl7.drop_directory
            extra = [*(extra or []), lambda stop: hl7_files.watch(folder, hl7, stop)]
    replayers["delivery-lifecare"] = replayers["delivery-prator"] = delivery_replayer(hub.log)
    if hub.settings.kommun_inbox is not None:
        kommun_inbox, mappings = hub.settings.kommun_inbox, hub.settings.kommun_mappings
        extra = [*(extra or []), lambda stop: kommun_files.watch(kommun_inbox, mappings, hub.log, hub.clock, stop,
                                                                   **kommun_files.options(hub.settings, hub.resources))]
    if hub.settings.prator.inbox is not None:
        inbox = hub.settings.prator.inbox
        extra = [*(extra or []), lambda stop: prator_files.watch(inbox, hub.log, hub.clock, stop,
                                                                   **kommun_files.options(hub.settings, hub.resources))]
    if hub.settings.prator.http is not None:
        target = PratorHttp(LifeCareClient(hub.settings.prator.http))
        extra = [*(extra or []), DeliveryWorker(hub.log, target, hub.clock, system="prator").run]
    elif hub.settings.prator.outbox is not None:
        prator = DeliveryWorker(hub.log, PratorDrop(hub.settings.prator.outbox), hub.clock, system="prator")
        extra = [*(extra or []), prator.run]
    if hub.settings.lifecare.enabled:
        client = LifeCareClient(hub.settings.lifecare)
        worker = DeliveryWorker(hub.log, client, hub.clock)
        extra = [*(extra or []), worker.run]
    app = create_app(ApiContext(hub.settings, hub.log, hub.clock, hub.runtime, hub.ingestor,
                                hub.resources, replayers, collectors))
    config = uvicorn.Config(app, host=hub.settings.api.host, port=hub.settings.api.port,
                            log_level="warning", lifespan="off", **tls_options(hub.settings.api))
    server = EmbeddedServer(config)
    tasks = [asyncio.create_task(server.serve(), name="api"),
             asyncio.create_task(hub.runtime.run(stop, idle_sleep=hub.settings.runtime.idle_sleep_s),
                                 name="runtime")]
    tasks.append(asyncio.create_task(watch_resources(hub.resources, stop), name="directory"))
    for job in extra or []:
        tasks.append(asyncio.create_task(job(stop), name="extra"))
    while not server.started:
        await asyncio.sleep(0.02)
        if tasks[0].done():
            stop.set()
            break
    if server.started and on_started is not None:
        sock = server.servers[0].sockets[0].getsockname()
        on_started(f"http://{sock[0]}:{sock[1]}")
    await stop.wait()
    if mllp is not None:
        await mllp.close()
    server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    if tasks[0].done() and not tasks[0].cancelled() and tasks[0].exception() is not None:
        raise tasks[0].exception()  # type: ignore[misc]
