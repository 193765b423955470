"""The process's SQLite writers' queue: re-entrant, and webhook ingest (urgent) goes
before the other writers waiting."""

from __future__ import annotations

import threading
import time

from payflow_app.core.db import _WriterTurns


def _wait_until(predicate: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _round(turns: _WriterTurns) -> list[str]:
    """One writer holds the lock; three wait; then an urgent one comes. Answers the
    order in which the four got it once the first let go."""
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with turns.turn():
            holding.set()
            release.wait(5)

    def writer(name: str, urgent: bool) -> None:
        with turns.turn(urgent=urgent):
            order.append(name)

    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(5)
    waiting = [threading.Thread(target=writer, args=(f"fulfil-{i}", False)) for i in range(3)]
    for thread in waiting:
        thread.start()
    time.sleep(0.02)  # the three are waiting before the urgent one comes
    ingest = threading.Thread(target=writer, args=("ingest", True))
    ingest.start()
    _wait_until(lambda: turns.waiting() == 1)
    release.set()
    for thread in [first, *waiting, ingest]:
        thread.join(5)
    return order


def test_an_urgent_writer_goes_before_writers_that_waited_longer() -> None:
    turns = _WriterTurns()
    for _ in range(10):
        order = _round(turns)
        assert order[0] == "ingest", order
        assert sorted(order[1:]) == ["fulfil-0", "fulfil-1", "fulfil-2"]


def test_turns_are_reentrant_and_exclusive() -> None:
    turns = _WriterTurns()
    inside = 0
    most = 0
    lock = threading.Lock()

    def writer() -> None:
        nonlocal inside, most
        for _ in range(50):
            with turns.turn(), turns.turn(urgent=True):  # a turn inside a turn: the same one
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 1
    assert turns._owner is None and turns.waiting() == 0
