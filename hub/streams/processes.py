"""The processors in a process of their own (``runtime.mode = "process"``, the default of
``hub run``): the MLLP server and the HTTP inbound share no interpreter lock with the engine, so
a sender's ACK never waits for processing. The child reads the log on its own connection and
commits its batches as the embedded runtime does; the parent's supervisor runs it as the task
``processors``:

- a store error in the child (lock timeout, full disk) ends it with ``EX_TEMPFAIL`` (75): the
  task is paused and the child started again after the back-off, resuming from the file;
- any other failure ends it with another code: the task is restarted with back-off;
- the child dies with its parent (``PR_SET_PDEATHSIG``, and it watches its parent's pid), and it
  holds ``<data file>.processors`` while it runs, so a child of a killed hub never overlaps the
  child of the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import HubError, NotOwner, StoreUnavailable
from hub.streams.owner import Ownership

if TYPE_CHECKING:
    from hub.streams.runtime import EmbeddedRuntime

log = logging.getLogger(__name__)

TEMPFAIL = 75
Build = Callable[[], "tuple[EmbeddedRuntime, Callable[[], None]]"]
"""Builds, in the child, the runtime and a function called about every 2 s (a directory reload)."""


class ProcessorsExited(HubError):
    """The processors' process ended on its own."""


class ProcessRunner:
    """Starts, watches and stops the processors' process (a supervised job)."""

    def __init__(self, build: Build, data: Path, *, idle_sleep: float = 0.05) -> None:
        self.build = build
        self.data = data
        self.idle_sleep = idle_sleep
        self.pid: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        context = multiprocessing.get_context("spawn")
        child = context.Process(target=_child, args=(self.build, self.data, self.idle_sleep, os.getpid()),
                                name="svu-hub-processors", daemon=True)
        child.start()
        self.pid = child.pid
        try:
            while child.is_alive() and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.2)
            if stop.is_set():
                child.terminate()  # SIGTERM: the child ends after its current batch
                await asyncio.to_thread(child.join, 30)
                return
            if child.exitcode == TEMPFAIL:
                raise StoreUnavailable("the processors' store refused a write")
            raise ProcessorsExited(f"the processors' process ended with code {child.exitcode}")
        finally:
            if child.is_alive():
                child.kill()
                await asyncio.to_thread(child.join, 10)
            self.pid = None


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _child(build: Build, data: Path, idle_sleep: float, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        return
    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    lock = Ownership(data.with_name(data.name + ".processors"))
    while True:  # the child of a killed hub may still be ending
        try:
            lock.acquire()
            break
        except NotOwner:
            if os.getppid() != parent:
                return
            time.sleep(0.05)
    try:
        runtime, refresh = build()
        last_refresh = time.monotonic()
        while not stopping["now"] and os.getppid() == parent:
            if runtime.run_once() == 0:
                time.sleep(idle_sleep)
            if time.monotonic() - last_refresh > 2.0:
                refresh()
                last_refresh = time.monotonic()
    except StoreUnavailable:
        sys.exit(TEMPFAIL)
    finally:
        lock.release()
