"""The reconciler: the fallback for a webhook that is late or never comes (an M-PESA
callback lost, a 3-D Secure charge whose customer closed the tab, a Checkout Session
left open). One background job, in one worker at a time (a lease), that:

- asks the provider about each payment still pending, on a backing-off schedule
  (``payments.schedule_sync``: first after ``pending_sync_first_seconds``, doubling up
  to ``pending_sync_max_seconds``); what the provider says goes through the one
  idempotent fulfilment; after ``pending_sync_max_attempts`` a payment still without
  a final answer is flagged for a person;
- expires payments the provider closes by itself (a Checkout Session past its
  lifetime) and card payments whose card never arrived;
- sends refunds of late money the provider has not answered yet.

Every status query is kept as a ``processing_attempt`` (kind ``sync``). Payments are
also claimed one by one with a lease (``SKIP LOCKED`` on PostgreSQL), so an operator's
"sync now" and the background job never ask about the same payment at once.
``background_sync_enabled=False`` switches the job off; webhooks and landings still
settle every payment."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col, or_, select

from payflow_app.core.db import is_sqlite, lock, read_session, write_transaction
from payflow_app.core.states import PaymentStatus
from payflow_app.models import Payment, ProcessingAttempt, pk, utcnow
from payflow_app.providers import get_provider
from payflow_app.providers.base import ProviderStatus
from payflow_app.services.accounts import memberships
from payflow_app.services.payments import attempts as payments
from payflow_app.services.payments import fulfilment, late_money
from payflow_app.services.payments.leases import hold_lease
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
PAYMENT_LEASE = timedelta(seconds=60)
JOB = "reconciler"
INTERNAL_RAILS = ("wallet",)  # settled in the transaction that charges them


@dataclass
class SyncReport:
    synced: int = 0  # the provider answered and its answer was applied
    failed: int = 0  # the provider (or applying its answer) failed; asked again later
    skipped: int = 0  # not asked: another worker holds it, or it has no provider reference yet

    def as_dict(self) -> dict[str, int]:
        return {"synced": self.synced, "failed": self.failed, "skipped": self.skipped}


def _claimable(query: Any) -> Any:
    now = utcnow()
    query = query.where(
        col(Payment.provider).not_in(INTERNAL_RAILS),
        col(Payment.provider_reference).is_not(None),
        or_(col(Payment.sync_locked_until).is_(None), col(Payment.sync_locked_until) < now),
    )
    return query if is_sqlite() else query.with_for_update(skip_locked=True)


def _lease(payment: Payment, *, scheduled: bool) -> int:
    now = utcnow()
    payment.sync_attempts += 1
    payment.last_sync_attempt_at = now
    payment.sync_locked_until = now + PAYMENT_LEASE
    if scheduled:
        payments.schedule_sync(payment, attempts=payment.sync_attempts)
    return pk(payment)


def claim_due_payment() -> int | None:
    """Lease the pending payment whose next status query is the most overdue."""
    with write_transaction() as session:
        query = (
            select(Payment)
            .where(Payment.status == PaymentStatus.PENDING, col(Payment.next_sync_at) <= utcnow())
            .order_by(col(Payment.next_sync_at))
            .limit(1)
        )
        payment = session.exec(_claimable(query)).first()
        return None if payment is None else _lease(payment, scheduled=True)


def claim_payment(payment_id: int) -> bool:
    """Lease one payment for a status query now (an operator's request)."""
    with write_transaction() as session:
        payment = session.exec(_claimable(select(Payment).where(Payment.id == payment_id))).first()
        if payment is None:
            return False
        _lease(payment, scheduled=payment.status == PaymentStatus.PENDING)
        return True


def _after_sync(payment_id: int, attempt: ProcessingAttempt, still_pending: bool) -> None:
    settings = get_settings()
    with write_transaction() as session:
        session.add(attempt)
        payment = lock(session, Payment, payment_id)
        payment.sync_locked_until = None
        out_of_attempts = payment.sync_attempts >= settings.pending_sync_max_attempts
        if still_pending and out_of_attempts and payment.expires_at is None:
            fulfilment.flag(
                payment,
                code="no_final_answer",
                reason=f"No final answer from {payment.provider} after {payment.sync_attempts} status "
                "queries. Check the payment in the provider's dashboard.",
            )


async def sync_payment(payment_id: int, *, trigger: str) -> bool:
    """Ask the provider about a leased payment and apply the answer; True when the
    provider answered. The attempt is kept, whatever happened."""
    started = time.perf_counter()
    payment = await asyncio.to_thread(_payment, payment_id)
    error: str | None = None
    still_pending = True
    try:
        truth = await payments.verify_payment(payment_id=payment_id)
        detail = f"provider says {truth.status}"
        still_pending = truth.status is ProviderStatus.PENDING
    except Exception as exc:
        error = traceback.format_exc(limit=8)
        detail = f"{type(exc).__name__}: {exc}"
        log.warning("status query for payment %s failed; asking again later: %s", payment_id, detail)
    attempt = ProcessingAttempt(
        kind="sync",
        trigger=trigger,
        payment_id=payment_id,
        provider=payment.provider,
        duration_ms=int((time.perf_counter() - started) * 1000),
        outcome="error" if error else "ok",
        detail=detail[:300],
        error=error,
    )
    await asyncio.to_thread(_after_sync, payment_id, attempt, still_pending)
    return error is None


def _payment(payment_id: int) -> Payment:
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment


async def sync_due_payments(report: SyncReport | None = None) -> SyncReport:
    """Ask about every payment due for a status query."""
    report = report or SyncReport()
    while (payment_id := await asyncio.to_thread(claim_due_payment)) is not None:
        if await sync_payment(payment_id, trigger="reconciler"):
            report.synced += 1
        else:
            report.failed += 1
    return report


def _overdue() -> tuple[list[int], list[int]]:
    """Pending payments past the provider's own expiry, and attempts that never got
    under way (no card arrived, or the provider never answered the start)."""
    now = utcnow()
    never_started_before = now - timedelta(minutes=get_settings().uncharged_payment_lifetime_minutes)
    with read_session() as session:
        expired = session.exec(
            select(Payment.id).where(
                Payment.status == PaymentStatus.PENDING,
                col(Payment.provider_reference).is_not(None),
                col(Payment.expires_at) < now,
            )
        ).all()
        abandoned = session.exec(
            select(Payment.id).where(
                col(Payment.status).in_((PaymentStatus.PENDING, PaymentStatus.CREATED)),
                col(Payment.provider_reference).is_(None),
                col(Payment.provider).not_in(INTERNAL_RAILS),
                col(Payment.created_at) < never_started_before,
            )
        ).all()
    return [int(i) for i in expired if i is not None], [int(i) for i in abandoned if i is not None]


async def close_overdue_payments() -> int:
    expired, abandoned = await asyncio.to_thread(_overdue)
    for payment_id in expired:
        payment = await asyncio.to_thread(_payment, payment_id)
        assert payment.provider_reference is not None
        try:
            truth = await get_provider(payment.provider).cancel_payment(payment.provider_reference)
            await payments.settle(payment_id=payment_id, truth=truth)
        except Exception:
            log.warning("could not expire payment %s; trying again later", payment_id, exc_info=True)
    for payment_id in abandoned:
        await asyncio.to_thread(payments.close_abandoned, payment_id)
    return len(expired) + len(abandoned)


async def send_due_refunds() -> None:
    for payment_id in await asyncio.to_thread(late_money.due_refunds):
        try:
            await late_money.send_refund(payment_id=payment_id)
        except Exception:
            log.warning("refund of payment %s not sent; trying again later", payment_id, exc_info=True)


async def reconcile_pending_payments() -> SyncReport:
    """One pass of the background job (the caller holds the job's lease)."""
    report = await sync_due_payments()
    await close_overdue_payments()
    await send_due_refunds()
    return report


def _open_payments() -> list[tuple[int, bool]]:
    with read_session() as session:
        rows = session.exec(
            select(Payment.id, Payment.provider_reference).where(
                or_(
                    Payment.status == PaymentStatus.PENDING,
                    (Payment.status == PaymentStatus.REQUIRES_REVIEW)
                    & (Payment.review_code == "no_final_answer"),
                ),
                col(Payment.provider).not_in(INTERNAL_RAILS),
            )
        ).all()
    return [(int(payment_id), reference is not None) for payment_id, reference in rows if payment_id]


async def sync_open_payments_now() -> SyncReport:
    """An operator's "sync now": ask about every open payment at once, whatever its
    schedule, skipping those another worker is asking about right now."""
    report = SyncReport()
    for payment_id, has_reference in await asyncio.to_thread(_open_payments):
        if not has_reference or not await asyncio.to_thread(claim_payment, payment_id):
            report.skipped += 1
        elif await sync_payment(payment_id, trigger="operator"):
            report.synced += 1
        else:
            report.failed += 1
    await send_due_refunds()
    return report


async def run_reconciler() -> None:
    """Runs for the app's lifetime (a lifespan task); the pass itself runs in the one
    worker holding the job's lease."""
    while True:
        settings = get_settings()
        try:
            lease_for = max(30.0, settings.pending_sync_poll_seconds * 5)
            if settings.background_sync_enabled and await asyncio.to_thread(
                hold_lease, JOB, seconds=lease_for
            ):
                await reconcile_pending_payments()
            await asyncio.to_thread(memberships.erase_expired_reveals)
        except Exception:
            log.exception("reconciler pass failed")
        await asyncio.sleep(settings.pending_sync_poll_seconds)
