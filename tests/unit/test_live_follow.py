"""When a page stops following its order: a closed order is followed a while longer
for a late reason (the M-PESA waiting page), a fulfilled one until its emails are out
(the pages that list them), and no longer than that."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from payflow_app.core import notify
from payflow_app.emails.outbox import OutboxView
from payflow_app.live import follow
from payflow_app.live.bus import StatusBus
from payflow_app.services.payments.snapshot import OrderSnapshot
from tests.unit.test_live_coalescing import _snapshot

# PayHero's status query: failed, no reason; its late callback: cancelled on the phone.
FAILED = dataclasses.replace(_snapshot(1), order_status="cancelled", payment_status="failed")
CANCELLED_ON_PHONE = dataclasses.replace(FAILED, failure_code="mpesa_1032")
FULFILLED = dataclasses.replace(_snapshot(1), order_status="fulfilled")


@pytest.fixture
async def order(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[OrderSnapshot]]:
    """The order's committed state: its last item. Append, then :func:`_announce`."""
    bus = StatusBus()
    monkeypatch.setattr(follow, "bus", bus)
    states: list[OrderSnapshot] = []
    monkeypatch.setattr(follow, "order_snapshot", lambda order_id, *, with_qr: states[-1])
    runner = asyncio.create_task(bus.run())
    await asyncio.sleep(0)  # attached to the loop and to the services' notifications
    yield states
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


def _announce() -> None:
    notify.publish(notify.order_topic(1))


async def _shown_count(shown: list[OrderSnapshot], count: int) -> None:
    while len(shown) < count:
        await asyncio.sleep(0.01)


async def test_a_closed_order_is_followed_a_while_longer_for_the_late_reason(
    order: list[OrderSnapshot],
) -> None:
    order.append(FAILED)
    shown: list[OrderSnapshot] = []

    async def show(snap: OrderSnapshot) -> None:
        shown.append(snap)

    following = asyncio.create_task(follow.follow_order(1, show=show, linger_after_close=10.0))
    await asyncio.wait_for(_shown_count(shown, 1), timeout=5)
    await asyncio.sleep(0.2)  # the status query's answer is on the page; the callback comes later
    assert not following.done()
    order.append(CANCELLED_ON_PHONE)
    _announce()
    await asyncio.wait_for(_shown_count(shown, 2), timeout=5)
    assert shown[-1].failure_code == "mpesa_1032"  # the page now says why
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)


async def test_a_closed_order_is_left_when_the_lingering_is_over(order: list[OrderSnapshot]) -> None:
    order.append(FAILED)
    shown: list[OrderSnapshot] = []

    async def show(snap: OrderSnapshot) -> None:
        shown.append(snap)

    started = time.monotonic()
    final = await asyncio.wait_for(follow.follow_order(1, show=show, linger_after_close=0.3), timeout=5)
    assert 0.3 <= time.monotonic() - started < 3
    assert final == FAILED and shown == [FAILED]


def _email(status: str) -> OutboxView:
    return OutboxView("tickets", "a@example.com", "Your tickets", status, None)


async def test_a_fulfilled_order_is_followed_until_its_emails_are_out(
    order: list[OrderSnapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = [_email("queued")]
    monkeypatch.setattr(follow, "emails_for_order", lambda order_id: list(outbox))
    order.append(FULFILLED)
    shown_emails: list[list[OutboxView]] = []

    async def show(snap: OrderSnapshot) -> None:
        pass

    async def show_emails(emails: list[OutboxView]) -> None:
        shown_emails.append(emails)

    following = asyncio.create_task(follow.follow_order(1, show=show, show_emails=show_emails))
    while not shown_emails:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    assert not following.done()  # fulfilled, but its email is still queued
    outbox[0] = _email("sent")
    _announce()  # the sender announces each email it sent
    await asyncio.wait_for(following, timeout=5)
    assert [e.status for e in shown_emails[-1]] == ["sent"]

    # A page that moves on at once (a top-up's) does not wait for them.
    outbox[0] = _email("queued")
    leaving = follow.follow_order(1, show=show, show_emails=show_emails, wait_for_emails=lambda snap: False)
    await asyncio.wait_for(leaving, timeout=1)
