"""The composition root: builds the hub's parts from settings. Nothing else wires components,
and nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import uvicorn

from hub.domain.clock import Clock
from hub.domain.processor import Processor
from hub.domain.timeline import TimelineProcessor
from hub.settings import HubSettings
from hub.streams.clock import SystemClock
from hub.streams.ingest import Ingestor
from hub.streams.runtime import EmbeddedRuntime
from hub.streams.sqlite_log import SqliteLog

if TYPE_CHECKING:
    from hub.streams.kafka.app import WorkerApp

log = logging.getLogger("hub")

ProcessorFactory = Callable[[HubSettings], Processor[Any, Any]]

PROCESSORS: dict[str, ProcessorFactory] = {
    TimelineProcessor.NAME: lambda settings: TimelineProcessor(),
}
"""Every processor the embedded runtime runs, by name. Register new ones here."""


def build_processors(settings: HubSettings, names: list[str] | None = None) -> list[Processor[Any, Any]]:
    """The registered processors (all, or those named), built from settings."""
    return [PROCESSORS[n](settings) for n in (names if names is not None else list(PROCESSORS))]


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
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.log.close()


def build_hub(settings: HubSettings, *, clock: Clock | None = None,
              processors: list[str] | None = None) -> Hub:
    """Open the log and build ingest and runtime with the registered processors."""
    clock = clock or SystemClock()
    sqlite = SqliteLog(
        settings.log.path,
        default_partitions=settings.log.partitions,
        durability=settings.log.durability,
        clock_ms=lambda: int(clock.now().timestamp() * 1000),
    )
    runtime = EmbeddedRuntime(
        sqlite,
        build_processors(settings, processors),
        clock,
        batch_size=settings.runtime.batch_size,
    )
    return Hub(settings, clock, sqlite, Ingestor(sqlite, clock), runtime)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside the hub's own event loop: the hub handles SIGINT/SIGTERM itself and stops
    the API, the runtime and the feeds together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(hub: Hub, *, extra: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] | None = None,
                on_started: Callable[[str], None] | None = None) -> None:
    """Run the API and the runtime (and any extra tasks, e.g. the demo feed) until SIGINT/SIGTERM."""
    from hub.api.app import ApiContext, create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    app = create_app(ApiContext(hub.settings, hub.log, hub.clock, hub.runtime))
    config = uvicorn.Config(app, host=hub.settings.api.host, port=hub.settings.api.port,
                            log_level="warning", lifespan="off")
    server = _EmbeddedServer(config)
    tasks = [asyncio.create_task(server.serve(), name="api"),
             asyncio.create_task(hub.runtime.run(stop, idle_sleep=hub.settings.runtime.idle_sleep_s),
                                 name="runtime")]
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
    server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    if tasks[0].done() and not tasks[0].cancelled() and tasks[0].exception() is not None:
        raise tasks[0].exception()  # type: ignore[misc]
