"""Late money: a provider took a payment that payflow can no longer deliver — the
order was cancelled or expired and its seats are gone, another attempt already
paid it, or the customer got what it buys through another order (``refuse``). The
money is never silently kept: a ``refund`` row is written in the transaction that
discovers it, then the refund is sent through the provider with the
refund's idempotency key (``send_refund``; retried by the reconciler until the
provider answers). A rail that cannot refund (M-PESA) flags the payment for a person.

(Money that can still be delivered is simply accepted by the fulfilment:
``kinds.reopen`` holds the seats again.)"""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import Session, select

from payflow_app.core import notify
from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError
from payflow_app.core.money import Money, format_money
from payflow_app.core.states import (
    OrderStatus,
    PaymentStatus,
    RefundStatus,
    check_order_transition,
    check_payment_transition,
)
from payflow_app.models import Order, Payment, Refund, pk, utcnow
from payflow_app.providers import get_provider
from payflow_app.providers.base import PaymentError, ProviderRefundStatus
from payflow_app.services.payments import order_kinds

log = logging.getLogger(__name__)
TRANSIENT = ("provider_unavailable",)  # the provider could not be reached: not a refusal


def refund_pending(session: Session, payment: Payment) -> bool:
    refund = session.exec(select(Refund).where(Refund.payment_id == payment.id)).first()
    return refund is not None and refund.status == RefundStatus.PENDING


def refund_later(session: Session, order: Order, payment: Payment, *, why: str | None = None) -> None:
    """Record that this succeeded payment must go back (once: one refund per payment)."""
    if session.exec(select(Refund).where(Refund.payment_id == payment.id)).first() is not None:
        return
    why = why or (
        "the order was already paid by another attempt"
        if order.paid_at is not None
        else f"the order was {order.status} and could not be reopened"
    )
    amount = format_money(payment.amount_minor, payment.currency)
    payment.review_code = "late_money"
    payment.review_reason = f"Late money: {amount} arrived after {why}; refunding it."
    payment.late_at = payment.late_at or utcnow()
    session.add(
        Refund(
            payment_id=pk(payment),
            order_id=pk(order),
            provider=payment.provider,
            idempotency_key=f"refund_{payment.idempotency_key}"[:80],
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            reason=why,
        )
    )
    log.warning("payment %s: %s", payment.id, payment.review_reason)


def refuse(session: Session, order: Order, payment: Payment, refused: DomainError) -> None:
    """Money for what the customer already has (the plan reached by another order, the
    gallery published meanwhile): it is never delivered a second time. An order still
    open is cancelled, giving back what it held, and the money is refunded."""
    if order.status in (OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT):
        order.status = check_order_transition(order.status, OrderStatus.CANCELLED)
        order.updated_at = utcnow()
        order_kinds.on_closed(session, order)
    refund_later(session, order, payment, why=f"what it pays for was granted already ({refused.code})")


def due_refunds() -> list[int]:
    """Payments whose refund has not been answered by the provider yet."""
    with read_session() as session:
        return list(
            session.exec(select(Refund.payment_id).where(Refund.status == RefundStatus.PENDING)).all()
        )


async def send_refund(*, payment_id: int) -> RefundStatus | None:
    """Ask the provider to refund; answers the refund's status, or None when there is
    none to send. Safe to call again: the idempotency key finds the same refund."""
    with read_session() as session:
        refund = session.exec(select(Refund).where(Refund.payment_id == payment_id)).first()
        payment = session.get(Payment, payment_id)
    if (
        refund is None
        or payment is None
        or refund.status != RefundStatus.PENDING
        or payment.provider_reference is None
    ):
        return None
    try:
        result = await get_provider(refund.provider).refund_payment(
            payment.provider_reference,
            amount=Money(refund.amount_minor, refund.currency),
            idempotency_key=refund.idempotency_key,
            reason=refund.reason,
        )
    except PaymentError as exc:
        if exc.code in TRANSIENT:  # the reconciler sends it again with the same key
            log.warning("refund of payment %s not sent yet: %s", payment_id, exc.message)
            return RefundStatus.PENDING
        await asyncio.to_thread(_refund_answered, payment_id, RefundStatus.FAILED, None, exc.message)
        return RefundStatus.FAILED
    status = {
        ProviderRefundStatus.SUCCEEDED: RefundStatus.SUCCEEDED,
        ProviderRefundStatus.FAILED: RefundStatus.FAILED,
    }.get(result.status, RefundStatus.PENDING)
    await asyncio.to_thread(
        _refund_answered, payment_id, status, result.refund_reference, result.failure_message
    )
    return status


def _refund_answered(
    payment_id: int, status: RefundStatus, reference: str | None, failure: str | None
) -> None:
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        refund = session.exec(select(Refund).where(Refund.payment_id == payment_id).with_for_update()).one()
        if refund.status != RefundStatus.PENDING:
            return
        refund.provider_reference = reference or refund.provider_reference
        refund.updated_at = utcnow()
        if status == RefundStatus.PENDING:
            return
        refund.status, refund.failure_message = status, (failure or None) and failure[:500]
        if status == RefundStatus.SUCCEEDED:
            payment.status = check_payment_transition(payment.status, PaymentStatus.REFUNDED)
            payment.review_reason = f"{payment.review_reason or 'Late money'} Refunded ({reference})."[:500]
        else:
            if payment.status != PaymentStatus.REQUIRES_REVIEW:
                payment.status = check_payment_transition(payment.status, PaymentStatus.REQUIRES_REVIEW)
            payment.review_reason = (
                f"{payment.review_reason or 'Late money.'} The refund failed: {failure or 'no reason given'}. "
                "Refund it by hand."
            )[:500]
            payment.flagged_at = utcnow()
        payment.updated_at = utcnow()
        order_id = payment.order_id
        user_id = lock(session, Order, order_id).user_id
    notify.order_changed(order_id, user_id=user_id)
