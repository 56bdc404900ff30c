"""The supervisor: every long-running task of a hub process runs under it.

- A task that raises is logged (its exception's class name only: a message could quote patient
  data), counted, and restarted after a back-off that doubles up to a limit.
- A store error (``StoreUnavailable``: lock timeout, full disk, I/O error) pauses the task; it is
  retried at the same back-off and resumes by itself once the store accepts writes again.
- A task restarted after a failure or a pause counts as running once it stayed up ``settle_s``.
- A task that is not running (paused, waiting to restart, exited) or restarts in a loop makes
  ``check()`` fail, which turns ``/ready`` false, and raises an ops alert: an ERROR log line
  ``ops alert: task … `` and the gauge ``svu_hub_task_alert``; both clear when the task runs again.
- Each state change (and a heartbeat) is written to a small status file beside the data file,
  which ``hub status`` reads.

The embedded hub (``hub.bootstrap``) and every Kafka role (``hub.roles``) build one Supervisor
and add their tasks to it; nothing else starts long-running tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from hub.errors import StoreUnavailable

log = logging.getLogger("hub.supervisor")

Job = Callable[[asyncio.Event], Awaitable[None]]
"""A long-running task: runs until the event is set."""


class TaskState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"  # the store refused; retried until it accepts again
    RESTARTING = "restarting"  # failed; waiting for the back-off to pass
    STOPPED = "stopped"
    FINISHED = "finished"  # a task that may end (``once``) did


@dataclass
class TaskInfo:
    """What the supervisor knows of one task."""

    name: str
    job: Job
    once: bool = False
    state: TaskState = TaskState.STARTING
    restarts: int = 0
    failures: int = 0
    store_errors: int = 0
    last_error: str | None = None
    since: float = field(default_factory=time.time)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    alerting: bool = False

    def crash_looping(self, limit: int, now: float) -> bool:
        return sum(1 for t in self.recent if now - t < 60.0) >= limit

    def as_dict(self, limit: int, now: float) -> dict[str, Any]:
        return {"state": self.state.value, "since": round(self.since, 3), "restarts": self.restarts,
                "failures": self.failures, "store_errors": self.store_errors,
                "last_error": self.last_error, "crash_loop": self.crash_looping(limit, now)}


class TaskExited(Exception):
    """A task returned although it was not asked to stop."""


class Supervisor:
    """Runs named tasks, restarts them, and reports their health."""

    def __init__(self, *, backoff_s: float = 0.2, max_backoff_s: float = 30.0, crash_loop: int = 5,
                 status_file: Path | None = None, heartbeat_s: float = 2.0, settle_s: float = 1.0) -> None:
        self.backoff_s = backoff_s
        self.settle_s = settle_s
        self.max_backoff_s = max_backoff_s
        self.crash_loop = crash_loop
        self.status_file = status_file
        self.heartbeat_s = heartbeat_s
        self.tasks: dict[str, TaskInfo] = {}
        self._running: list[asyncio.Task[None]] = []

    def add(self, name: str, job: Job, *, once: bool = False) -> None:
        """Register a task; it starts with ``run`` (or at once if the supervisor already runs).
        A task added with ``once`` may end by itself (a feed that played all it had); others
        that end are restarted."""
        if name in self.tasks:
            raise ValueError(f"task {name} is registered twice")
        info = TaskInfo(name, job, once)
        self.tasks[name] = info
        if self._stop is not None:
            self._running.append(asyncio.create_task(self._keep(info, self._stop), name=name))

    _stop: asyncio.Event | None = None

    # ── health ──────────────────────────────────────────────────────────────────────────────

    def check(self) -> dict[str, Any]:
        """Readiness: every task running and none restarting in a loop."""
        now = time.time()
        tasks = {n: t.as_dict(self.crash_loop, now) for n, t in self.tasks.items()}
        bad = [n for n, t in self.tasks.items() if not self._healthy(t, now)]
        return {"ok": not bad, "failing": bad, "tasks": tasks}

    def _healthy(self, info: TaskInfo, now: float) -> bool:
        return info.state in (TaskState.RUNNING, TaskState.FINISHED) and not info.crash_looping(self.crash_loop, now)

    def collect(self) -> Iterator[Any]:
        """Prometheus metrics (a Collector): restarts, store errors, up and alert per task."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        now = time.time()
        up = GaugeMetricFamily("svu_hub_task_up", "1 while the task runs.", labels=["task"])
        alert = GaugeMetricFamily("svu_hub_task_alert", "1 while the task is down or crash-looping "
                                  "(ops alert).", labels=["task"])
        restarts = CounterMetricFamily("svu_hub_task_restarts", "Restarts after a failure.", labels=["task"])
        store = CounterMetricFamily("svu_hub_task_store_errors", "Pauses because the store refused.",
                                    labels=["task"])
        for name, info in self.tasks.items():
            up.add_metric([name], 1.0 if info.state is TaskState.RUNNING else 0.0)
            alert.add_metric([name], 0.0 if self._healthy(info, now) else 1.0)
            restarts.add_metric([name], info.failures)
            store.add_metric([name], info.store_errors)
        yield from (up, alert, restarts, store)

    # ── running ─────────────────────────────────────────────────────────────────────────────

    async def run(self, stop: asyncio.Event) -> None:
        """Run every task until ``stop`` is set, then wait for all of them to end."""
        self._stop = stop
        self._running = [asyncio.create_task(self._keep(t, stop), name=t.name) for t in self.tasks.values()]
        beat = asyncio.create_task(self._heartbeat(stop), name="supervisor-heartbeat")
        await stop.wait()
        await asyncio.gather(*self._running, return_exceptions=True)
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        self._write_status()

    async def _keep(self, info: TaskInfo, stop: asyncio.Event) -> None:
        delay = self.backoff_s
        while not stop.is_set():
            started = time.monotonic()
            store_error = False
            try:
                job = asyncio.ensure_future(info.job(stop))
                if info.state in (TaskState.PAUSED, TaskState.RESTARTING):
                    # running again only once it stayed up a while: a retry that fails at once
                    # must not make /ready flicker true
                    done, _ = await asyncio.wait({job}, timeout=self.settle_s)
                    if not done:
                        self._set(info, TaskState.RUNNING)
                else:
                    self._set(info, TaskState.RUNNING)
                await job
                if stop.is_set():
                    break
                if info.once:
                    self._set(info, TaskState.FINISHED)
                    return
                raise TaskExited("the task returned")
            except asyncio.CancelledError:
                if stop.is_set():
                    break
                raise
            except StoreUnavailable:
                store_error = True
                info.store_errors += 1
                info.last_error = "StoreUnavailable"
                self._set(info, TaskState.PAUSED)
                log.warning("task %s paused: the store refused a write; retrying", info.name)
            except Exception as exc:
                info.failures += 1
                info.restarts += 1
                info.last_error = type(exc).__name__
                info.recent.append(time.time())
                self._set(info, TaskState.RESTARTING)
                log.error("task %s failed (%s); restarting in %.1f s", info.name, type(exc).__name__, delay)
            if time.monotonic() - started > 60.0:
                delay = self.backoff_s  # it ran a good while: start the back-off over
            with contextlib.suppress(TimeoutError):  # a paused task looks again within 5 s
                await asyncio.wait_for(stop.wait(), timeout=min(delay, 5.0) if store_error else delay)
            delay = min(delay * 2, self.max_backoff_s)
        self._set(info, TaskState.STOPPED)

    def _set(self, info: TaskInfo, state: TaskState) -> None:
        if info.state is not state:
            info.state = state
            info.since = time.time()
        now = time.time()
        healthy = self._healthy(info, now) or state is TaskState.STOPPED
        if not healthy and not info.alerting:
            info.alerting = True
            log.error("ops alert: task %s is %s%s", info.name, state.value,
                      " (crash loop)" if info.crash_looping(self.crash_loop, now) else "")
        elif healthy and info.alerting and state is TaskState.RUNNING:
            info.alerting = False
            log.warning("ops alert cleared: task %s runs again", info.name)
        self._write_status()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._write_status()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.heartbeat_s)

    def _write_status(self) -> None:
        if self.status_file is None:
            return
        body = orjson.dumps({"pid": os.getpid(), "written": time.time(), **self.check()})
        tmp = self.status_file.with_name(self.status_file.name + ".tmp")
        with contextlib.suppress(OSError):  # a full disk must not stop the supervisor
            tmp.write_bytes(body)
            tmp.replace(self.status_file)


def read_status(path: Path) -> dict[str, Any] | None:
    """The status a running supervisor last wrote (``hub status``), or None."""
    try:
        found: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return found


def status_file_for(data: Path) -> Path:
    return data.with_name(data.name + ".tasks.json")
