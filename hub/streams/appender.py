"""Group commit for network adapters: concurrent submissions are written in one SQLite
transaction, and each submitter is answered only after COMMIT returned — an acknowledgement is
never sent for something that is not yet durable, and many connections share one fsync.

The transaction runs on a writer thread of its own, never on the event loop: while one batch
waits for the disk (or for the lock, at most ``log.lock_timeout_s``), the loop keeps reading
frames, answering ``/health`` and queueing the next batch. When the store refuses, every
submitter of the batch gets the error (MLLP answers AR, HTTP 503) and nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="group-commit")
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
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=False)

    def _commit(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> list[Any]:
        results: list[Any] = []
        with self.log.transaction() as tx:
            for work, _ in batch:
                results.append(work(tx))
        return results

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            await asyncio.sleep(0)  # let concurrent submitters join this batch
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await loop.run_in_executor(self._thread, self._commit, batch)
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
