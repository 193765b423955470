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

from payflow_app.emails.outbox import OutboxView, emails_for_order
from payflow_app.live.bus import bus
from payflow_app.services import notify, payments
from payflow_app.services.status import OrderSnapshot, order_snapshot

log = logging.getLogger(__name__)
# A tab stops following after this long; a reload starts again.
FOLLOW_FOR_SECONDS = 30 * 60
# A fulfilled order's emails go out just after it (the sender announces each one on
# the order's topic): a page that lists them keeps following this long at most.
EMAILS_GRACE_SECONDS = 30.0


async def verify_quietly(payment_id: int) -> None:
    """Ask the provider and apply its answer; a failure only means waiting longer."""
    try:
        await payments.verify_payment(payment_id=payment_id)
    except Exception:
        log.warning("verification of payment %s failed", payment_id, exc_info=True)


def _emails_out(emails: list[OutboxView]) -> bool:
    return all(email.status == "sent" for email in emails)


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
    started = time.monotonic()
    closed_at: float | None = None
    settled_at: float | None = None
    verifying: asyncio.Task[None] | None = None
    delayed = delayed_after is None
    # Subscribe before the first read, so no change can slip between the two.
    async with bus.watch(notify.order_topic(order_id)) as changes:
        try:
            while True:
                snap = await asyncio.to_thread(order_snapshot, order_id, with_qr=with_qr)
                assert snap is not None
                await show(snap)
                emails_out = True
                if show_emails is not None:
                    emails = await asyncio.to_thread(emails_for_order, order_id)
                    await show_emails(emails)
                    emails_out = _emails_out(emails) or not wait_for_emails(snap)
                now = time.monotonic()
                if snap.is_closed:  # fulfilled, or closed without it
                    if snap.is_processed:
                        if emails_out:
                            return snap
                        settled_at = settled_at or now
                        lingering = EMAILS_GRACE_SECONDS - (now - settled_at)
                    else:
                        closed_at = closed_at or now
                        lingering = linger_after_close - (now - closed_at)
                    if lingering > 0 and await changes.wait(timeout=lingering):
                        continue
                    return snap
                elapsed = now - started
                if elapsed > FOLLOW_FOR_SECONDS:
                    return snap
                deadlines = [FOLLOW_FOR_SECONDS - elapsed]
                if verifying is None and verify_payment_id is not None:
                    deadlines.append(verify_after - elapsed)
                if not delayed and delayed_after is not None:
                    deadlines.append(delayed_after - elapsed)
                if await changes.wait(timeout=max(0.0, min(deadlines))):
                    continue  # one re-read for every change since the last one
                elapsed = time.monotonic() - started
                if verifying is None and verify_payment_id is not None and elapsed >= verify_after:
                    verifying = asyncio.create_task(verify_quietly(verify_payment_id))
                if not delayed and delayed_after is not None and elapsed >= delayed_after:
                    delayed = True
                    if on_delayed is not None:
                        await on_delayed()
        finally:
            if verifying is not None and not verifying.done():
                verifying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await verifying
