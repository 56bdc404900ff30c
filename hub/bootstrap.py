"""The composition root: builds the hub's parts from settings. Nothing else wires components,
and nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from hub.adapters.hl7.transport import MllpServer
from hub.adapters.lifecare.transport import LifeCareClient
from hub.domain.agreements import Agreements
from hub.domain.agreements import build as build_agreements
from hub.domain.clock import Clock
from hub.domain.engine import EpisodeEngine
from hub.domain.processor import Processor
from hub.domain.readmission import ReadmissionProcessor
from hub.domain.rules import BUILTIN_PACKS, RulePack, builtin_pack, parse_rule_pack
from hub.domain.stats import StatsProcessor
from hub.domain.timeline import TimelineProcessor
from hub.errors import ConfigurationError
from hub.settings import HubSettings
from hub.streams import hl7_files, kommun_files, metrics, otel, prator_files
from hub.streams.appender import GroupCommitter
from hub.streams.bridge import BridgeMonitor, breaker_state
from hub.streams.clock import SystemClock
from hub.streams.delivery import DeliveryWorker, PratorDrop, PratorHttp, delivery_replayer
from hub.streams.directory import DirectoryHolder
from hub.streams.held import HeldStore
from hub.streams.hl7_ingest import Hl7Ingest
from hub.streams.ingest import Ingestor
from hub.streams.owner import Ownership
from hub.streams.processes import ProcessRunner
from hub.streams.projections import PROJECTIONS
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog
from hub.streams.supervisor import Supervisor, status_file_for

if TYPE_CHECKING:
    from hub.streams.kafka.app import WorkerApp

log = logging.getLogger("hub")

@dataclass
class Resources:
    """Shared, reloadable data the processors use: the rule pack and the unit directory."""

    pack: RulePack
    directory: DirectoryHolder
    agreements: Agreements | None = None


def load_pack(name: str) -> RulePack:
    """A shipped rule pack by id, or a pack file; ConfigurationError if bad."""
    if name in BUILTIN_PACKS:
        return builtin_pack(name)
    path = Path(name)
    try:
        return parse_rule_pack(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the rule pack: {exc.strerror}", file=name) from None


def load_resources(settings: HubSettings) -> Resources:
    """Rule packs (shipped or files), agreements and unit directory from settings;
    ConfigurationError if bad."""
    e = settings.engine
    agreements = build_agreements(e.rule_pack, e.packs, [(a.region, a.municipality, a.pack) for a in e.agreements],
                                  e.liability_daily_rate_sek, load_pack)
    return Resources(agreements.home, DirectoryHolder(e.directory), agreements)


def _engine(settings: HubSettings, resources: Resources) -> Processor[Any, Any]:
    secret = settings.engine.patient_key_secret.get_secret_value().encode()
    return EpisodeEngine(resources.pack, resources.directory.current, secret,
                         agreements=resources.agreements)


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
    held: HeldStore | None = None

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.log.close()


def open_log(settings: HubSettings, clock: Clock, *, processors: bool = False) -> SqliteLog:
    """A connection to the data file. The processors' own connection commits without an fsync
    of its own (``normal``) when the log is ``full``: their outputs can be computed again from
    the inputs, and the next durable commit of an input or a delivery status syncs them too."""
    durability = settings.log.durability
    if processors and durability == "full":
        durability = "normal"
    return SqliteLog(settings.log.path, default_partitions=settings.log.partitions, durability=durability,
                     clock_ms=lambda: int(clock.now().timestamp() * 1000),
                     lock_timeout_s=settings.log.lock_timeout_s)


def supervisor_for(settings: HubSettings, *, status: bool = True) -> Supervisor:
    """The one supervisor of a hub process (embedded or a Kafka role); with ``status``, it writes
    its tasks' states beside the data file for ``hub status``."""
    return Supervisor(backoff_s=settings.runtime.restart_backoff_s, max_backoff_s=settings.runtime.max_backoff_s,
                      crash_loop=settings.runtime.crash_loop,
                      status_file=status_file_for(settings.log.path) if status else None)


def build_hub(settings: HubSettings, *, clock: Clock | None = None,
              processors: list[str] | None = None) -> Hub:
    """Open the log and build ingest and runtime with the registered processors. The runtime
    has a connection of its own, so that its batches never hold the adapters' connection."""
    clock = clock or SystemClock()
    resources = load_resources(settings)
    sqlite = open_log(settings, clock)
    worker = open_log(settings, clock, processors=True)
    runtime = EmbeddedRuntime(
        worker,
        build_processors(settings, processors, resources),
        clock,
        batch_size=settings.runtime.batch_size,
        cache_bytes=int(settings.runtime.cache_mb * (1 << 20)),
        projections=[cls() for cls in PROJECTIONS] if processors is None else [],
        view=sqlite,
    )
    held = HeldStore(sqlite, clock.now)
    resources.directory.listeners.append(lambda directory: held.release())
    return Hub(settings, clock, sqlite, Ingestor(sqlite, clock), runtime, resources, closers=[worker.close], held=held)


def processors_runtime(settings: HubSettings, clock: Clock) -> tuple[EmbeddedRuntime, Callable[[], None]]:
    """In the processors' own process: every processor and projection on a connection of its
    own, and the unit directory reloaded when its file changes."""
    resources = load_resources(settings)
    runtime = EmbeddedRuntime(open_log(settings, clock, processors=True), build_processors(settings, None, resources),
                              clock, batch_size=settings.runtime.batch_size,
                              cache_bytes=int(settings.runtime.cache_mb * (1 << 20)),
                              projections=[cls() for cls in PROJECTIONS])

    def refresh() -> None:
        try:
            resources.directory.reload_if_changed()
        except ConfigurationError as exc:
            log.error("unit directory not reloaded, the previous one stays in force: %s", exc)

    return runtime, refresh


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


async def start_hl7(hub: Hub, *, listen: bool = True) -> tuple[MllpServer, Hl7Ingest]:
    """The MLLP endpoint with durable, group-committed acknowledgements; listening at once, or
    (``listen=False``) started by its supervised task."""
    committer = GroupCommitter(hub.log)
    ingest = Hl7Ingest(committer, ward_lookup(hub.settings, hub.resources), hub.clock,
                       other_events=hub.settings.hl7.other_events, settings=hub.settings.hl7)
    if hub.held is not None:
        hub.held.reprocessors["hl7"] = ingest.reprocess

    async def handle(raw: bytes, connection: str) -> bytes | None:
        reply = await ingest.handle(raw, connection)
        hub.runtime.notify()
        return reply

    server = MllpServer(hub.settings.hl7, otel.mllp_handler(handle), ingest.reject)
    if listen:
        await server.start()
    return server, ingest


Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def mllp_task(server: MllpServer, started: asyncio.Event,
              on_port: Callable[[int], None] = lambda port: None) -> Job:
    """The MLLP server as a supervised task: listens until stop, then lets in-flight messages
    finish (each acknowledged) and closes; a failure to listen is retried with back-off."""
    async def run(stop: asyncio.Event) -> None:
        await server.start()
        on_port(server.port)
        started.set()
        try:
            await stop.wait()
        finally:
            await server.close()

    return run


def console_jobs(hub: Hub, circuits: dict[str, Callable[[], str]]
                 ) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """The bridge monitor (stuck deliveries, open circuits) and, when enabled, the notifier."""
    import datetime as dt

    from hub.streams.notify import Notifier

    bridge = hub.settings.bridge
    monitor = BridgeMonitor(hub.log, hub.clock, dt.timedelta(seconds=bridge.stuck_after_s), circuits)
    jobs: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = [
        lambda stop: monitor.run(stop, every=bridge.check_every_s)]
    if hub.settings.notify.enabled:
        notifier = Notifier(hub.log, hub.settings.notify, pack_id=hub.resources.pack.id)
        jobs.append(notifier.run)
    return jobs


async def serve(hub: Hub, *, extra: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] | None = None,
                on_started: Callable[[str], None] | None = None, stop: asyncio.Event | None = None) -> None:
    """Run the API and, under one supervisor, the processors, the MLLP server, the inboxes and
    the delivery workers (and any extra tasks, e.g. the demo feed) until SIGINT/SIGTERM. The
    process must own the data file (``hub.streams.owner``): NotOwner when another hub runs it."""
    from hub.api.app import ApiContext, create_app, tls_options
    from hub.api.metrics import MllpCollector

    ownership = Ownership(hub.settings.log.path)
    ownership.acquire()
    hub.closers.append(ownership.release)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    settings = hub.settings
    supervisor = supervisor_for(settings)
    if settings.runtime.mode == "process":
        runner = ProcessRunner(functools.partial(processors_runtime, settings, hub.clock), settings.log.path,
                               idle_sleep=settings.runtime.idle_sleep_s)
        supervisor.add("processors", runner.run)
    else:
        supervisor.add("processors", lambda stop: hub.runtime.run(stop, idle_sleep=settings.runtime.idle_sleep_s))
    supervisor.add("directory", lambda stop: watch_resources(hub.resources, stop))
    replayers = {}
    collectors: list[Any] = [supervisor]
    mllp_started = asyncio.Event()
    if settings.hl7.enabled:
        mllp, hl7 = await start_hl7(hub, listen=False)
        replayers["hl7"] = hl7.replayer(hub.log)
        collectors.append(MllpCollector(mllp, hl7))

        def on_port(port: int) -> None:
            hub.mllp_port = port

        supervisor.add("mllp", mllp_task(mllp, mllp_started, on_port))
        if hub.held is not None:
            from hub.api.held import HeldCollector
            collectors.append(HeldCollector(hub.held))
        if settings.hl7.drop_directory is not None:
            folder = settings.hl7.drop_directory
            supervisor.add("hl7-inbox", lambda stop: hl7_files.watch(folder, hl7, stop))
    else:
        mllp_started.set()
    replayers["delivery-lifecare"] = replayers["delivery-prator"] = delivery_replayer(hub.log)
    if settings.kommun_inbox is not None:
        kommun_inbox, mappings = settings.kommun_inbox, settings.kommun_mappings
        supervisor.add("kommun-inbox",
                       lambda stop: kommun_files.watch(kommun_inbox, mappings, hub.log, hub.clock, stop,
                                                          **kommun_files.options(settings, hub.resources)))
    if settings.prator.inbox is not None:
        inbox = settings.prator.inbox
        supervisor.add("prator-inbox", lambda stop: prator_files.watch(inbox, hub.log, hub.clock, stop,
                                                                 **kommun_files.options(settings, hub.resources)))
    circuits: dict[str, Callable[[], str]] = {}
    breakers: dict[str, Any] = {}
    if settings.prator.http is not None:
        target = PratorHttp(LifeCareClient(settings.prator.http))
        circuits["prator"] = breaker_state(target.client.breaker)
        breakers["prator"] = metrics.breaker_of(target)
        supervisor.add("delivery-prator", DeliveryWorker(hub.log, target, hub.clock, system="prator").run)
    elif settings.prator.outbox is not None:
        prator = DeliveryWorker(hub.log, PratorDrop(settings.prator.outbox), hub.clock, system="prator")
        supervisor.add("delivery-prator", prator.run)
    if settings.lifecare.enabled:
        client = LifeCareClient(settings.lifecare)
        circuits["lifecare"] = breaker_state(client.breaker)
        breakers["lifecare"] = client.breaker
        supervisor.add("delivery-lifecare", DeliveryWorker(hub.log, client, hub.clock).run)
    collectors.append(metrics.ReadModelCollector(hub.log, breakers))  # deliveries, with their circuits
    for name, job in zip(("bridge-monitor", "notifier"), console_jobs(hub, circuits), strict=False):
        supervisor.add(name, job)
    for i, job in enumerate(extra or []):
        supervisor.add(f"extra-{i}", job, once=True)
    app = create_app(ApiContext(settings, hub.log, hub.clock, hub.runtime, hub.ingestor,
                                hub.resources, replayers, collectors, checks={"tasks": supervisor.check},
                                circuits=circuits, held=hub.held))
    config = uvicorn.Config(app, host=settings.api.host, port=settings.api.port,
                            log_level="warning", lifespan="off", **tls_options(settings.api))
    server = EmbeddedServer(config)
    api = asyncio.create_task(server.serve(), name="api")
    supervised = asyncio.create_task(supervisor.run(stop), name="supervisor")
    while not server.started:
        await asyncio.sleep(0.02)
        if api.done():
            stop.set()
            break
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(mllp_started.wait(), timeout=5.0)
    if server.started and on_started is not None:
        sock = server.servers[0].sockets[0].getsockname()
        on_started(f"http://{sock[0]}:{sock[1]}")
    await stop.wait()
    await supervised
    server.should_exit = True
    await asyncio.gather(api, return_exceptions=True)
    if api.done() and not api.cancelled() and api.exception() is not None:
        raise api.exception()  # type: ignore[misc]
