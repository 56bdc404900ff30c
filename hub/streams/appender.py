"""Group commit for network adapters: concurrent submissions are written in one SQLite
transaction, and each submitter is answered only after COMMIT returned — an acknowledgement is
never sent for something that is not yet durable, and many connections share one fsync."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from hub.streams.sqlite_log import SqliteLog

T = TypeVar("T")
Work = Callable[[Any], Any]


class GroupCommitter:
    """Runs queued work functions (each given the open transaction) in shared transactions."""

    def __init__(self, log: SqliteLog, *, max_batch: int = 256) -> None:
        self.log = log
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Work, asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, work: Callable[[Any], T]) -> T:
        """Queue ``work``; returns its result once its transaction has committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((work, future))
        result: T = await future
        return result

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with __import__("contextlib").suppress(asyncio.CancelledError):
                await self._task

    async def _writer(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(0)  # let concurrent submitters join this batch
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            results: list[Any] = []
            try:
                with self.log.transaction() as tx:
                    for work, _ in batch:
                        results.append(work(tx))
            except Exception as exc:  # the whole batch failed: nobody is acknowledged
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
