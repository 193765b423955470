"""Asking the provider about payments still pending: the fallback for a webhook that
is late or never comes (an M-PESA callback lost, a 3-D Secure charge whose customer
closed the tab). Each pending card or M-PESA payment is asked about on a backing-off
schedule (``payments.schedule_sync``: first after ``pending_sync_first_seconds``,
doubling up to ``pending_sync_max_seconds``); what the provider says goes through the
one idempotent fulfilment. Workers claim a payment with a lease (``SKIP LOCKED`` on
PostgreSQL), so several app processes never ask twice at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlmodel import col, or_, select

from payflow_app.models import Payment, pk, utcnow
from payflow_app.services import memberships, payments
from payflow_app.services.db import is_sqlite, write_transaction
from payflow_app.services.states import PaymentStatus
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
# Stripe's sessions expire on their own schedule (issue 5 brings them here too).
SYNCED_PROVIDERS = ("univapay", "payhero")


def claim_due_payment() -> int | None:
    now = utcnow()
    with write_transaction() as session:
        query = (
            select(Payment)
            .where(
                Payment.status == PaymentStatus.PENDING,
                col(Payment.provider).in_(SYNCED_PROVIDERS),
                col(Payment.provider_reference).is_not(None),
                col(Payment.next_sync_at) <= now,
            )
            .where(or_(col(Payment.sync_locked_until).is_(None), col(Payment.sync_locked_until) < now))
            .order_by(col(Payment.next_sync_at))
            .limit(1)
        )
        if not is_sqlite():
            query = query.with_for_update(skip_locked=True)
        payment = session.exec(query).first()
        if payment is None:
            return None
        payment.sync_attempts += 1
        payment.last_sync_attempt_at = now
        payment.sync_locked_until = now + LEASE
        payments.schedule_sync(payment, attempts=payment.sync_attempts)
        return pk(payment)


def _release(payment_id: int) -> None:
    with write_transaction() as session:
        payment = session.get(Payment, payment_id)
        if payment is not None:
            payment.sync_locked_until = None


async def sync_due_payments() -> int:
    """Ask about every payment due; answers how many were asked about."""
    count = 0
    while (payment_id := await asyncio.to_thread(claim_due_payment)) is not None:
        try:
            await payments.verify_payment(payment_id=payment_id)
        except Exception:
            log.warning("status query for payment %s failed; asking again later", payment_id, exc_info=True)
        finally:
            await asyncio.to_thread(_release, payment_id)
        count += 1
    return count


async def run_pending_sync() -> None:
    """Runs for the app's lifetime (a lifespan task)."""
    while True:
        try:
            await sync_due_payments()
            await asyncio.to_thread(memberships.erase_expired_reveals)
        except Exception:
            log.exception("pending payment sync pass failed")
        await asyncio.sleep(get_settings().pending_sync_poll_seconds)
