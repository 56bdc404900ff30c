"""Composition of the hub's roles on Kafka (the distributed deployment; ``deploy/helm``):

- ``hub worker``: the processors as Faust agents (``bootstrap.build_worker``);
- ``hub adapter mllp``: the HL7 v2 MLLP endpoint, writing raw bytes, canonical events and dead
  letters to Kafka, acknowledging each message only after the brokers acknowledged its records;
- ``hub adapter delivery --system S``: deliveries from Kafka to LifeCare or Prator;
- ``hub api``: the ops API and dashboard over a local mirror of the cluster (``serve_api``).

Like ``bootstrap``, nothing here connects at import time. Every long-running task of a role runs
under the same supervisor as the embedded hub's (``bootstrap.supervisor_for``): restarted with
back-off, paused on store errors, and reported in ``/ready`` (check ``tasks``) and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from hub.adapters.hl7.transport import MllpServer
from hub.bootstrap import EmbeddedServer, load_resources, mllp_task, supervisor_for, ward_lookup, watch_resources
from hub.domain.clock import Clock
from hub.settings import HubSettings
from hub.streams import hl7_files, kommun_files, metrics, otel, prator_files
from hub.streams.clock import SystemClock
from hub.streams.hl7_ingest import Hl7Ingest
from hub.streams.kafka.committer import KafkaCommitter
from hub.streams.kafka.producer import KafkaAppender, start_with_retry

log = logging.getLogger("hub")


@dataclass
class MllpAdapter:
    """The running MLLP adapter's parts (for probes and tests)."""

    settings: HubSettings
    appender: KafkaAppender
    committer: KafkaCommitter
    ingest: Hl7Ingest
    server: MllpServer | None = None
    probes_url: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def checks(self) -> dict[str, dict[str, Any]]:
        kafka_ok = self.appender.started and self.committer.failures_in_a_row == 0
        return {"kafka": {"ok": kafka_ok, "failed_batches": self.committer.failures},
                "mllp": {"ok": self.server is not None,
                         "port": self.server.port if self.server is not None else None}}


def _signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve_mllp_adapter(settings: HubSettings, *, clock: Clock | None = None,
                             stop: asyncio.Event | None = None,
                             on_started: Callable[[MllpAdapter], None] | None = None) -> None:
    """Run ``hub adapter mllp`` until SIGINT/SIGTERM (or ``stop``): the MLLP server (and the HL7
    drop directory, if set) on Kafka, with /health, /ready and /metrics on the API address."""
    from hub.api.metrics import MllpCollector
    from hub.api.probes import create_probe_app

    clock = clock or SystemClock()
    resources = load_resources(settings)
    appender = KafkaAppender(settings.kafka)
    committer = KafkaCommitter(appender, mode=settings.kafka.content_mode)
    ingest = Hl7Ingest(committer, ward_lookup(settings, resources), clock, other_events=settings.hl7.other_events,
                       settings=settings.hl7)
    adapter = MllpAdapter(settings, appender, committer, ingest, stop=stop or asyncio.Event())
    _signals(adapter.stop)
    supervisor = supervisor_for(settings, status=False)
    collectors: list[Any] = [supervisor]

    def checks() -> dict[str, dict[str, Any]]:
        return {**adapter.checks(), "tasks": supervisor.check()}

    probes = EmbeddedServer(uvicorn.Config(create_probe_app("MLLP adapter", checks, collectors),
                                            host=settings.api.host, port=settings.api.port,
                                            log_level="warning", lifespan="off"))
    supervisor.add("directory", lambda stop: watch_resources(resources, stop))
    tasks = [asyncio.create_task(probes.serve(), name="probes")]
    try:
        if not await start_with_retry(appender.start, adapter.stop):
            return
        adapter.server = MllpServer(settings.hl7, otel.mllp_handler(ingest.handle), ingest.reject)
        collectors.append(MllpCollector(adapter.server, ingest))
        listening = asyncio.Event()
        supervisor.add("mllp", mllp_task(adapter.server, listening))
        if settings.hl7.drop_directory is not None:
            folder = settings.hl7.drop_directory
            supervisor.add("hl7-inbox", lambda stop: hl7_files.watch(folder, ingest, stop))
        tasks.append(asyncio.create_task(supervisor.run(adapter.stop), name="supervisor"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listening.wait(), timeout=10.0)
        while not probes.started and not tasks[0].done():
            await asyncio.sleep(0.02)
        if probes.started:
            host, port = probes.servers[0].sockets[0].getsockname()[:2]
            adapter.probes_url = f"http://{host}:{port}"
        log.warning("MLLP adapter on port %d, writing to Kafka at %s", adapter.server.port,
                    ", ".join(settings.kafka.bootstrap_servers))
        if on_started is not None:
            on_started(adapter)
        await adapter.stop.wait()
    finally:
        adapter.stop.set()  # the supervised MLLP task lets in-flight messages finish, then closes
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        await committer.close()
        await appender.stop()
        probes.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class ApiRole:
    """The running API role's parts (for tests)."""

    log: Any
    mirror: Any
    runtime: Any
    url: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def serve_api(settings: HubSettings, *, clock: Clock | None = None, stop: asyncio.Event | None = None,
                    on_started: Callable[[ApiRole], None] | None = None) -> None:
    """Run ``hub api``: the ops API and dashboard on Kafka. Reads come from a local mirror of the
    cluster (``hub.streams.kafka.mirror``) kept by the projections; writes (inbound messages,
    audit records, alert and dead-letter actions) go to Kafka before the caller is answered."""
    from hub.api.app import ApiContext, create_app, tls_options
    from hub.bootstrap import PROCESSORS
    from hub.streams.appender import GroupCommitter
    from hub.streams.delivery import delivery_replayer
    from hub.streams.ingest import Ingestor
    from hub.streams.kafka.mirror import KafkaMirror, MirroredLog, ThreadedAppender, stores
    from hub.streams.projections import PROJECTIONS
    from hub.streams.runtime import EmbeddedRuntime

    clock = clock or SystemClock()
    resources = load_resources(settings)
    appender = ThreadedAppender(settings.kafka)
    mirrored = MirroredLog(settings.log.path, appender.append, default_partitions=settings.log.partitions,
                           durability=settings.log.durability)
    runtime = EmbeddedRuntime(mirrored, [], clock, batch_size=settings.runtime.batch_size,
                              projections=[cls() for cls in PROJECTIONS])
    # The event stream too: who is part of an episode is decided from the region's events and the
    # hub's routing (``EpisodePartiesProjection``), on Kafka as on one machine.
    mirror = KafkaMirror(settings.kafka, mirrored, changelogs=stores(settings.kafka.app_id, list(PROCESSORS)),
                         topics=r"^svu\.(?!raw\.)",
                         on_written=runtime.notify)
    role = ApiRole(mirrored, mirror, runtime, stop=stop or asyncio.Event())
    _signals(role.stop)
    hl7 = Hl7Ingest(GroupCommitter(mirrored), ward_lookup(settings, resources), clock,
                    other_events=settings.hl7.other_events, settings=settings.hl7)
    replayers = {"hl7": hl7.replayer(mirrored), "delivery-lifecare": delivery_replayer(mirrored),
                 "delivery-prator": delivery_replayer(mirrored)}
    supervisor = supervisor_for(settings)
    ctx = ApiContext(settings, mirrored, clock, runtime, Ingestor(mirrored, clock), resources, replayers,
                     collectors=[supervisor],
                     checks={"kafka": lambda: {"ok": appender.started}, "mirror": mirror.check,
                             "tasks": supervisor.check})
    appender.start()
    server = EmbeddedServer(uvicorn.Config(create_app(ctx), host=settings.api.host, port=settings.api.port,
                                           log_level="warning", lifespan="off", **tls_options(settings.api)))
    supervisor.add("mirror", mirror.run)
    supervisor.add("projections", lambda stop: runtime.run(stop, idle_sleep=settings.runtime.idle_sleep_s))
    supervisor.add("directory", lambda stop: watch_resources(resources, stop))
    # File drops (a volume shared by the replicas): each file's events go to Kafka, then it moves.
    if settings.prator.inbox is not None:
        inbox = settings.prator.inbox
        supervisor.add("prator-inbox", lambda stop: prator_files.watch(inbox, mirrored, clock, stop,
                                                                   **kommun_files.options(settings, resources)))
    if settings.kommun_inbox is not None:
        kommun, mappings = settings.kommun_inbox, settings.kommun_mappings
        supervisor.add("kommun-inbox", lambda stop: kommun_files.watch(kommun, mappings, mirrored, clock, stop,
                                                                   **kommun_files.options(settings, resources)))
    tasks = [asyncio.create_task(server.serve(), name="api"),
             asyncio.create_task(supervisor.run(role.stop), name="supervisor")]
    try:
        while not server.started and not tasks[0].done():
            await asyncio.sleep(0.02)
        if server.started:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            role.url = f"http://{host}:{port}"
            log.warning("API on %s, mirroring Kafka at %s", role.url, ", ".join(settings.kafka.bootstrap_servers))
            if on_started is not None:
                on_started(role)
            await role.stop.wait()
    finally:
        role.stop.set()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        appender.stop()
        mirrored.close()


def delivery_target(settings: HubSettings, system: str) -> Any:
    """The sender for one system, from settings: LifeCare over HTTP; Prator over HTTP or into its
    outbox. ConfigurationError when the system has no target configured."""
    from hub.adapters.lifecare.transport import LifeCareClient
    from hub.errors import ConfigurationError
    from hub.streams.delivery import PratorDrop, PratorHttp

    if system == "lifecare":
        if not settings.lifecare.enabled:
            raise ConfigurationError("deliveries to LifeCare need lifecare.enabled and lifecare.base_url",
                                     field="lifecare.enabled")
        return LifeCareClient(settings.lifecare)
    if settings.prator.http is not None:
        return PratorHttp(LifeCareClient(settings.prator.http))
    if settings.prator.outbox is not None:
        return PratorDrop(settings.prator.outbox)
    raise ConfigurationError("deliveries to Prator need prator.http or prator.outbox", field="prator.outbox")


@dataclass
class DeliveryRole:
    """The running delivery role's parts (for tests)."""

    worker: Any
    probes_url: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def serve_delivery(settings: HubSettings, system: str, *, clock: Clock | None = None,
                         stop: asyncio.Event | None = None,
                         on_started: Callable[[DeliveryRole], None] | None = None) -> None:
    """Run ``hub adapter delivery --system S``: deliveries from Kafka to one system, with
    /health, /ready and /metrics on the API address."""
    from prometheus_client.core import CounterMetricFamily

    from hub.api.probes import create_probe_app
    from hub.streams.delivery import DeliveryWorker
    from hub.streams.kafka.delivery import KafkaDeliveryWorker

    clock = clock or SystemClock()
    target = delivery_target(settings, system)
    deliverer = DeliveryWorker(None, target, clock, system=system)
    appender = KafkaAppender(settings.kafka)
    worker = KafkaDeliveryWorker(settings.kafka, deliverer, appender)
    role = DeliveryRole(worker, stop=stop or asyncio.Event())
    _signals(role.stop)

    class Counts:
        def collect(self) -> Any:
            for name, value, text in (("dead_lettered", deliverer.failed, "Deliveries that failed for good."),
                                      ("refused", worker.refusals, "Statuses Kafka did not take (re-sent).")):
                family = CounterMetricFamily(f"svu_hub_delivery_{name}", text, labels=["system"])
                family.add_metric([system], value)
                yield family

    supervisor = supervisor_for(settings, status=False)
    checks = lambda: {"kafka": {"ok": appender.started}, "consumer": worker.check(),  # noqa: E731
                      "tasks": supervisor.check()}
    role_metrics = metrics.DeliveryRoleCollector(system, deliverer, lambda: metrics.kafka_lag(worker.consumer),
                                                 metrics.breaker_of(target))
    probes = EmbeddedServer(uvicorn.Config(create_probe_app(f"delivery to {system}", checks,
                                                            [Counts(), supervisor, role_metrics]),
                                           host=settings.api.host, port=settings.api.port,
                                           log_level="warning", lifespan="off"))
    tasks = [asyncio.create_task(probes.serve(), name="probes")]
    try:
        if not await start_with_retry(appender.start, role.stop):
            return
        supervisor.add(f"delivery-{system}", worker.run)
        tasks.append(asyncio.create_task(supervisor.run(role.stop), name="supervisor"))
        while not probes.started and not tasks[0].done():
            await asyncio.sleep(0.02)
        if probes.started:
            host, port = probes.servers[0].sockets[0].getsockname()[:2]
            role.probes_url = f"http://{host}:{port}"
        if on_started is not None:
            on_started(role)
        await role.stop.wait()
    finally:
        role.stop.set()
        probes.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await appender.stop()
