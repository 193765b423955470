"""Following one order live from a page's background task: re-read on every change
the status bus announces, ask the provider when nothing came for a while, and give
up after a bound (a closed tab must not keep a task forever)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from payflow_app.live.bus import bus
from payflow_app.services import notify, payments
from payflow_app.services.status import OrderSnapshot, order_snapshot

log = logging.getLogger(__name__)
# A tab stops following after this long; a reload starts again.
FOLLOW_FOR_SECONDS = 30 * 60


async def verify_quietly(payment_id: int) -> None:
    """Ask the provider and apply its answer; a failure only means waiting longer."""
    try:
        await payments.verify_payment(payment_id=payment_id)
    except Exception:
        log.warning("verification of payment %s failed", payment_id, exc_info=True)


async def follow_order(
    order_id: int,
    *,
    show: Callable[[OrderSnapshot], Awaitable[None]],
    verify_payment_id: int | None = None,
    verify_after: float = 3.0,
    delayed_after: float | None = None,
    on_delayed: Callable[[], Awaitable[None]] | None = None,
) -> OrderSnapshot:
    """Show every new snapshot of the order until it is settled (fulfilled or closed)
    and answer the last one. When nothing happened for ``verify_after`` seconds the
    provider is asked once (the webhook may be late); after ``delayed_after`` seconds
    ``on_delayed`` runs once and the page keeps following."""
    started = time.monotonic()
    verified = verify_payment_id is None
    delayed = delayed_after is None
    async with bus.watch(notify.order_topic(order_id)) as changes:
        while True:
            snap = await asyncio.to_thread(order_snapshot, order_id, with_qr=False)
            assert snap is not None
            await show(snap)
            if snap.is_processed or snap.is_closed:
                return snap
            elapsed = time.monotonic() - started
            if elapsed > FOLLOW_FOR_SECONDS:
                return snap
            deadlines = [FOLLOW_FOR_SECONDS - elapsed]
            if not verified:
                deadlines.append(verify_after - elapsed)
            if not delayed and delayed_after is not None:
                deadlines.append(delayed_after - elapsed)
            try:
                await asyncio.wait_for(changes.get(), timeout=max(0.0, min(deadlines)))
                continue
            except TimeoutError:
                elapsed = time.monotonic() - started
            if not verified and elapsed >= verify_after and verify_payment_id is not None:
                verified = True
                await verify_quietly(verify_payment_id)
            if not delayed and delayed_after is not None and elapsed >= delayed_after:
                delayed = True
                if on_delayed is not None:
                    await on_delayed()
