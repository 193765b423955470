"""A tab following an order re-reads it once for a burst of change notifications
(fulfilment notifies after each committed step), never misses the last change, and
ends on the newest state."""

from __future__ import annotations

import asyncio
import threading

import pytest

from payflow_app.core import notify
from payflow_app.live import follow
from payflow_app.live.bus import Changes, StatusBus
from payflow_app.services.payments.snapshot import OrderSnapshot

BURST = 20


def _snapshot(step: int) -> OrderSnapshot:
    """The order after ``step`` committed steps (in ``quantity``): still being fulfilled."""
    return OrderSnapshot(
        order_id=1,
        order_number="ORD-1",
        kind="ticket_order",
        user_id=1,
        event_title="Jazz",
        event_slug="jazz",
        ticket_type="Standard",
        quantity=step,
        amount_minor=12000,
        currency="PLN",
        order_status="paid",
        payment_status="succeeded",
        payment_reference=None,
        failure_message=None,
        failure_code=None,
        receipt_number=None,
        payment_provider="stripe",
        steps=[],
    )


async def test_changes_heard_while_busy_are_one_change_and_none_is_lost() -> None:
    changes = Changes()
    assert not await changes.wait(timeout=0.05)
    for _ in range(BURST):
        changes.notify()
    assert await changes.wait(timeout=0.05)
    assert not await changes.wait(timeout=0.05)  # the burst was one change
    waiting = asyncio.create_task(changes.wait())
    await asyncio.sleep(0)
    changes.notify()
    waiting.cancel()  # a wait cancelled as the change came leaves it for the next wait
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await changes.wait(timeout=0.05)


async def test_a_burst_of_notifications_costs_at_most_two_reads_and_ends_on_the_newest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fulfilment commits a step and notifies, BURST times, while the tab is reading: the
    tab reads once more for all of them (not once each) and shows the last state. The
    order never settles here, so the tab follows until its bound and every read shows."""
    bus = StatusBus()
    monkeypatch.setattr(follow, "bus", bus)
    monkeypatch.setattr(follow, "FOLLOW_FOR_SECONDS", 3)
    step = 0  # the order's committed state
    reads: list[int] = []
    reading = threading.Event()
    burst_sent = threading.Event()

    def order_snapshot(order_id: int, *, with_qr: bool) -> OrderSnapshot:
        seen = step  # what the read sees: the state when it starts
        reads.append(seen)
        if len(reads) == 2:  # the read the first notification started: the burst lands meanwhile
            reading.set()
            assert burst_sent.wait(timeout=10)
        return _snapshot(seen)

    def fulfil() -> None:
        nonlocal step
        for n in range(1, BURST + 1):
            step = n
            notify.publish(notify.order_topic(1))
            if n == 1:
                assert reading.wait(timeout=10)
        burst_sent.set()

    monkeypatch.setattr(follow, "order_snapshot", order_snapshot)
    shown: list[OrderSnapshot] = []

    async def show(snap: OrderSnapshot) -> None:
        shown.append(snap)

    runner = asyncio.create_task(bus.run())
    await asyncio.sleep(0)  # attached to the loop and to the services' notifications
    try:
        following = asyncio.create_task(follow.follow_order(1, show=show))
        while not reads:
            await asyncio.sleep(0.01)
        worker = threading.Thread(target=fulfil)
        worker.start()
        final = await asyncio.wait_for(following, timeout=30)
        worker.join()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    # The first read, one for the first step, one for the other 19 — and the last look
    # the tab takes when it stops following (one read per notification would be 21 more).
    assert reads == [0, 1, BURST, BURST]
    assert final.quantity == shown[-1].quantity == BURST
