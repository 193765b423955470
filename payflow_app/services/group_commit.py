"""Group commit, for SQLite's one writer at a time: writes that arrive while a
transaction is being committed wait and share the next one, so a burst costs one
commit — one fsync and one turn of the database write lock — instead of one each, and
no writer sleeps in SQLite's busy handler. A caller gets its answer only once its
work is committed, exactly as with a transaction of its own. (PostgreSQL runs
concurrent transactions side by side and flushes their commits together itself: one
writer there would only make their round trips wait in line.)

A job is a function of a Core connection, run inside the shared write transaction in
the order the jobs arrived. If one job raises (or the commit fails), the batch is rolled back and each of its jobs
runs again in a transaction of its own, so the failure is only that job's: a job must
therefore change nothing but rows, and read what it decides on in its connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from payflow_app.services.db import write_connection

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    work: Callable[[Connection], T]
    done: Future[T] = field(default_factory=Future)


class GroupCommit:
    """One writer thread (started on first use) runs the queued jobs in batches of at
    most ``max_batch``."""

    def __init__(self, name: str, *, max_batch: int = 64) -> None:
        self._name = name
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._starting = threading.Lock()

    def run(self, work: Callable[[Connection], T]) -> T:
        """``work``'s result once committed; its exception if it (alone) failed."""
        job = _Job(work)
        self._jobs.put(job)
        self._ensure_writer()
        return job.done.result()

    def _ensure_writer(self) -> None:
        # Also after a fork: the child inherits the thread object but not the thread.
        if self._writer is not None and self._writer.is_alive():
            return
        with self._starting:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_forever, name=self._name, daemon=True)
                self._writer.start()

    def _write_forever(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Job[Any]]) -> None:
        if len(batch) == 1:
            _write_alone(batch[0])
            return
        try:
            with write_connection() as connection:
                results = [job.work(connection) for job in batch]
        except Exception:
            for job in batch:
                _write_alone(job)
            return
        for job, result in zip(batch, results, strict=True):
            job.done.set_result(result)


def _write_alone(job: _Job[Any]) -> None:
    try:
        with write_connection() as connection:
            result = job.work(connection)
    except Exception as exc:  # the caller's to handle, as if it had run the work itself
        job.done.set_exception(exc)
        return
    job.done.set_result(result)
