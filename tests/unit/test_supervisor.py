"""The supervisor: failures restart with back-off, store errors pause and resume, a task down or
crash-looping fails the check, its status file tells `hub status`, and no log line quotes an
exception's message."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from hub.errors import NotOwner, StoreUnavailable
from hub.streams.owner import Ownership, running_owner
from hub.streams.supervisor import Supervisor, TaskState, read_status

SECRET = "19121212-1212"


async def _until(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


async def test_a_failing_task_is_restarted_and_its_message_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    runs = {"n": 0}

    async def flaky(stop: asyncio.Event) -> None:
        runs["n"] += 1
        if runs["n"] <= 2:
            raise RuntimeError(f"patient {SECRET} broke it")
        await stop.wait()

    sup = Supervisor(backoff_s=0.01, crash_loop=10, settle_s=0.05)
    sup.add("flaky", flaky)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING):
        task = asyncio.create_task(sup.run(stop))
        await _until(lambda: runs["n"] == 3 and sup.tasks["flaky"].state is TaskState.RUNNING, "third run")
        assert sup.tasks["flaky"].failures == 2
        assert sup.check()["ok"]
        stop.set()
        await task
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text
    assert sup.tasks["flaky"].state is TaskState.STOPPED


async def test_a_store_error_pauses_fails_the_check_and_resumes_by_itself() -> None:
    full = {"on": True}
    worked = asyncio.Event()

    async def writer(stop: asyncio.Event) -> None:
        if full["on"]:
            raise StoreUnavailable("database or disk is full")
        worked.set()
        await stop.wait()

    sup = Supervisor(backoff_s=0.01, settle_s=0.05)
    sup.add("writer", writer)
    stop = asyncio.Event()
    task = asyncio.create_task(sup.run(stop))
    await _until(lambda: sup.tasks["writer"].store_errors >= 2, "paused twice")
    assert sup.tasks["writer"].state is TaskState.PAUSED
    found = sup.check()
    assert not found["ok"] and found["failing"] == ["writer"]
    assert sup.tasks["writer"].failures == 0  # a pause is not a crash
    full["on"] = False
    await asyncio.wait_for(worked.wait(), 5)
    await _until(lambda: sup.check()["ok"], "running again once it stayed up")
    stop.set()
    await task


async def test_a_crash_loop_fails_the_check_and_raises_the_ops_alert(caplog: pytest.LogCaptureFixture,
                                                                     tmp_path: Path) -> None:
    async def broken(stop: asyncio.Event) -> None:
        raise ValueError("no")

    async def fine(stop: asyncio.Event) -> None:
        await stop.wait()

    status = tmp_path / "hub.db.tasks.json"
    sup = Supervisor(backoff_s=0.001, max_backoff_s=0.002, crash_loop=3, status_file=status)
    sup.add("broken", broken)
    sup.add("fine", fine)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(sup.run(stop))
        await _until(lambda: sup.tasks["broken"].failures >= 4, "a crash loop")
        written = read_status(status)
        assert written is not None and written["tasks"]["broken"]["crash_loop"]
        assert written["failing"] == ["broken"] and written["tasks"]["fine"]["state"] == "running"
        stop.set()
        await task
    assert "ops alert: task broken" in caplog.text
    metrics = {m.name: {s.labels["task"]: s.value for s in m.samples} for m in sup.collect()}
    assert metrics["svu_hub_task_restarts"]["broken"] >= 4
    assert metrics["svu_hub_task_restarts"]["fine"] == 0


async def test_a_task_that_returns_on_its_own_is_restarted() -> None:
    runs = {"n": 0}

    async def short(stop: asyncio.Event) -> None:
        runs["n"] += 1

    sup = Supervisor(backoff_s=0.001, max_backoff_s=0.002, crash_loop=1000)
    sup.add("short", short)
    stop = asyncio.Event()
    task = asyncio.create_task(sup.run(stop))
    await _until(lambda: runs["n"] >= 3, "three runs")
    assert sup.tasks["short"].last_error == "TaskExited"
    stop.set()
    await task


def test_one_owner_per_data_file(tmp_path: Path) -> None:
    data = tmp_path / "hub.db"
    assert running_owner(data) is None
    first = Ownership(data)
    first.acquire()
    with pytest.raises(NotOwner, match=r"pid \d+"):
        Ownership(data).acquire()
    assert running_owner(data) is not None
    first.release()
    assert running_owner(data) is None
    with Ownership(data) as again:
        assert again.held


async def test_a_task_that_may_end_finishes_without_a_restart() -> None:
    runs = {"n": 0}

    async def feed(stop: asyncio.Event) -> None:
        runs["n"] += 1

    sup = Supervisor(backoff_s=0.001)
    sup.add("feed", feed, once=True)
    stop = asyncio.Event()
    task = asyncio.create_task(sup.run(stop))
    await _until(lambda: sup.tasks["feed"].state is TaskState.FINISHED, "finished")
    await asyncio.sleep(0.05)
    assert runs["n"] == 1 and sup.check()["ok"]
    stop.set()
    await task
