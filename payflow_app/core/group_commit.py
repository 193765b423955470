"""Group commit: writes that arrive together are made by one thread in one
transaction, so a burst pays for one commit (one fsync, one turn of SQLite's write
lock) instead of one each — the way databases flush their own logs.

Each caller waits for its own answer, given only once the transaction holding its
item has committed. When a batch fails, its items are written again one by one, so
one bad item fails only its own caller. A caller that gave up before its batch
started (a client that hung up) is left out of it.

Two users: the webhook inbox stores webhooks (``inbox``, one multi-row INSERT per
batch), and the gate runs each scan's writes as a job of a shared SQLite transaction
(:class:`SharedTransaction`, ``checkin``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from payflow_app.core.db import write_connection

log = logging.getLogger(__name__)
I = TypeVar("I")  # noqa: E741  (an item to write)
R = TypeVar("R")  # its result
T = TypeVar("T")  # a job's result


class GroupCommit(Generic[I, R]):
    """``write_batch`` writes items in one transaction and answers one result per
    item, in order; ``write_one`` writes a single item in a transaction of its own
    (the fallback after a failed batch). Both run on the writer thread only."""

    def __init__(
        self,
        name: str,
        *,
        write_batch: Callable[[Sequence[I]], Sequence[R]],
        write_one: Callable[[I], R],
        max_batch: int = 256,
    ) -> None:
        self._name = name
        self._write_batch = write_batch
        self._write_one = write_one
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[I, Future[R]]] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def write(self, item: I) -> R:
        """Write ``item`` with whatever else is waiting; answers once committed."""
        return await asyncio.wrap_future(self.submit(item))

    def submit(self, item: I) -> Future[R]:
        future: Future[R] = Future()
        self._queue.put((item, future))
        self._ensure_writer()
        return future

    def queued(self) -> int:
        """Items waiting for the writer (not counting the batch it is writing)."""
        return self._queue.qsize()

    def _ensure_writer(self) -> None:
        """Started on first use, and again in a forked worker (threads do not fork)."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # From here on a caller's future can no longer be cancelled.
            self._write([(item, f) for item, f in batch if f.set_running_or_notify_cancel()])

    def _write(self, batch: list[tuple[I, Future[R]]]) -> None:
        if not batch:
            return
        try:
            results = self._write_batch([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            log.warning("%s: a batch of %s failed; writing its items one by one", self._name, len(batch))
            for item, future in batch:
                self._write_alone(item, future)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _write_alone(self, item: I, future: Future[R]) -> None:
        try:
            future.set_result(self._write_one(item))
        except Exception as exc:
            future.set_exception(exc)


Job = Callable[[Connection], Any]


def _run_jobs(jobs: Sequence[Job]) -> list[Any]:
    with write_connection() as connection:
        return [job(connection) for job in jobs]


def _run_job(job: Job) -> Any:
    with write_connection() as connection:
        return job(connection)


class SharedTransaction(GroupCommit[Job, Any]):
    """Jobs (functions of a Core connection, changing nothing but rows) run in the
    order they came, in one write transaction per batch."""

    def __init__(self, name: str, *, max_batch: int = 64) -> None:
        super().__init__(name, write_batch=_run_jobs, write_one=_run_job, max_batch=max_batch)

    def run(self, job: Callable[[Connection], T]) -> T:
        """``job``'s result once committed; its exception if it (alone) failed."""
        result: T = self.submit(job).result()
        return result
