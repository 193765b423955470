"""Following one order live from a page's background task: re-read when the status
bus announces a change (once for a burst of them), ask the provider when nothing came
for a while, and give up after a bound (a closed tab must not keep a task forever).

Every live page (the processing page, the card return and success pages, the M-PESA
waiting page) follows its order with :func:`follow_order`; the page only says what to
show and when the wait counts as delayed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from payflow_app.core import notify
from payflow_app.core.states import OutboxStatus
from payflow_app.emails.outbox import OutboxView, emails_for_order
from payflow_app.live.bus import bus
from payflow_app.services.payments import attempts
from payflow_app.services.payments.snapshot import OrderSnapshot, order_snapshot

log = logging.getLogger(__name__)
# A tab stops following after this long; a reload starts again.
FOLLOW_FOR_SECONDS = 30 * 60
# A fulfilled order's emails go out just after it (the sender announces each one on
# the order's topic): a page that lists them keeps following this long at most.
EMAILS_GRACE_SECONDS = 30.0


async def verify_quietly(payment_id: int) -> None:
    """Ask the provider and apply its answer; a failure only means waiting longer."""
    try:
        await attempts.verify_payment(payment_id=payment_id)
    except Exception:
        log.warning("verification of payment %s failed", payment_id, exc_info=True)


def _emails_out(emails: list[OutboxView]) -> bool:
    return all(email.status == OutboxStatus.SENT for email in emails)


@dataclass
class _Following:
    """One page's follow of one order: what it asked for, and where the wait stands."""

    order_id: int
    show: Callable[[OrderSnapshot], Awaitable[None]]
    show_emails: Callable[[list[OutboxView]], Awaitable[None]] | None
    wait_for_emails: Callable[[OrderSnapshot], bool]
    with_qr: bool
    verify_payment_id: int | None
    verify_after: float
    delayed_after: float | None
    on_delayed: Callable[[], Awaitable[None]] | None
    linger_after_close: float
    started: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    settled_at: float | None = None
    verifying: asyncio.Task[None] | None = None
    delayed: bool = False

    async def read_and_show(self) -> tuple[OrderSnapshot, bool]:
        """The order's snapshot (and emails), shown; and whether its emails are out
        as far as this page cares."""
        snap = await asyncio.to_thread(order_snapshot, self.order_id, with_qr=self.with_qr)
        assert snap is not None
        await self.show(snap)
        if self.show_emails is None:
            return snap, True
        emails = await asyncio.to_thread(emails_for_order, self.order_id)
        await self.show_emails(emails)
        return snap, _emails_out(emails) or not self.wait_for_emails(snap)

    def lingering(self, snap: OrderSnapshot, now: float) -> float:
        """How much longer a closed order is followed: a fulfilled one until its
        emails are out (bounded), an unpaid one ``linger_after_close``."""
        if snap.is_processed:
            self.settled_at = self.settled_at or now
            return EMAILS_GRACE_SECONDS - (now - self.settled_at)
        self.closed_at = self.closed_at or now
        return self.linger_after_close - (now - self.closed_at)

    def quiet_for(self, elapsed: float) -> float:
        """How long to wait for a change before the next timer is due."""
        deadlines = [FOLLOW_FOR_SECONDS - elapsed]
        if self.verifying is None and self.verify_payment_id is not None:
            deadlines.append(self.verify_after - elapsed)
        if not self.delayed and self.delayed_after is not None:
            deadlines.append(self.delayed_after - elapsed)
        return max(0.0, min(deadlines))

    async def on_quiet(self) -> None:
        """Nothing changed for a while: ask the provider once, and say "delayed" once."""
        elapsed = time.monotonic() - self.started
        if self.verifying is None and self.verify_payment_id is not None and elapsed >= self.verify_after:
            self.verifying = asyncio.create_task(verify_quietly(self.verify_payment_id))
        if not self.delayed and self.delayed_after is not None and elapsed >= self.delayed_after:
            self.delayed = True
            if self.on_delayed is not None:
                await self.on_delayed()

    async def stop_verifying(self) -> None:
        if self.verifying is not None and not self.verifying.done():
            self.verifying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.verifying


async def follow_order(
    order_id: int,
    *,
    show: Callable[[OrderSnapshot], Awaitable[None]],
    show_emails: Callable[[list[OutboxView]], Awaitable[None]] | None = None,
    wait_for_emails: Callable[[OrderSnapshot], bool] = lambda snap: True,
    with_qr: bool = False,
    verify_payment_id: int | None = None,
    verify_after: float = 3.0,
    delayed_after: float | None = None,
    on_delayed: Callable[[], Awaitable[None]] | None = None,
    linger_after_close: float = 0.0,
) -> OrderSnapshot:
    """Show every new snapshot of the order until it is settled (fulfilled or closed)
    and answer the last one.

    - ``show_emails``: the order's emails are read and shown with every snapshot, and a
      fulfilled order is followed until they are all out (or for
      ``EMAILS_GRACE_SECONDS``) — when ``wait_for_emails(snapshot)`` says the page waits
      for them (e.g. a ticket order's page, which stays; not one that moves on).
    - ``verify_payment_id``: when nothing settled the order for ``verify_after`` seconds
      the provider is asked once (the webhook may be late), while the page keeps
      showing what happens meanwhile.
    - ``delayed_after``: after that many seconds ``on_delayed`` runs once and the page
      keeps following.
    - ``linger_after_close``: a closed order is followed that many seconds more: a late
      callback may still name the reason a status query could not
      (``payments.close_payment``)."""
    following = _Following(
        order_id,
        show,
        show_emails,
        wait_for_emails,
        with_qr,
        verify_payment_id,
        verify_after,
        delayed_after,
        on_delayed,
        linger_after_close,
        delayed=delayed_after is None,
    )
    # Subscribe before the first read, so no change can slip between the two.
    async with bus.watch(notify.order_topic(order_id)) as changes:
        try:
            while True:
                snap, emails_out = await following.read_and_show()
                now = time.monotonic()
                if snap.is_processed and emails_out:
                    return snap
                if snap.is_closed:  # fulfilled (emails still going out), or closed unpaid
                    lingering = following.lingering(snap, now)
                    if lingering > 0 and await changes.wait(timeout=lingering):
                        continue
                    return snap
                elapsed = now - following.started
                if elapsed > FOLLOW_FOR_SECONDS:
                    return snap
                if await changes.wait(timeout=following.quiet_for(elapsed)):
                    continue  # one re-read for every change since the last one
                await following.on_quiet()
        finally:
            await following.stop_verifying()
