"""Payment attempts: starting one with a provider, and moving it along its state
machine when the provider's truth arrives (from a webhook, the landing page or a
status query). Only this module and fulfilment change a payment's status."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from payflow_app.core import notify, urls
from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, NotFound
from payflow_app.core.money import Money
from payflow_app.core.states import (
    InboxStatus,
    OrderStatus,
    PaymentStatus,
    check_order_transition,
    check_payment_transition,
)
from payflow_app.models import Order, Payment, User, WebhookEvent, pk, utcnow
from payflow_app.providers import get_provider
from payflow_app.providers.base import (
    COARSE_FAILURE_CODES,
    PaymentError,
    PaymentRequest,
    PaymentTruth,
    ProviderStatus,
)
from payflow_app.services.payments import fulfilment, late_money, order_kinds
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
TERMINAL = {
    PaymentStatus.SUCCEEDED,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELLED,
    PaymentStatus.EXPIRED,
    PaymentStatus.REFUNDED,
}


@dataclass(frozen=True)
class CheckoutRedirect:
    payment_id: int
    provider_reference: str
    redirect_url: str


async def start_order_payment(*, order_id: int, provider_id: str = "stripe") -> CheckoutRedirect:
    """Open a payment attempt for a pending order and answer where to send the
    customer. A provider failure closes the attempt and cancels the order (its seats
    are released) and raises PaymentError with the provider's reason."""
    payment_id, request = await asyncio.to_thread(_create_attempt, order_id, provider_id)
    provider = get_provider(provider_id)
    try:
        started = await provider.start_payment(request)
    except PaymentError as exc:
        await asyncio.to_thread(fail_attempt, payment_id, exc)
        raise
    if not started.redirect_url:
        raise PaymentError("no_redirect", "The payment provider did not return a payment page.")
    await asyncio.to_thread(
        attempt_started, payment_id, started.provider_reference, started.redirect_url, started.expires_at
    )
    return CheckoutRedirect(
        payment_id=payment_id,
        provider_reference=started.provider_reference,
        redirect_url=started.redirect_url,
    )


def _create_attempt(order_id: int, provider_id: str) -> tuple[int, PaymentRequest]:
    public = get_settings().public_url
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.status != OrderStatus.PENDING:
            raise DomainError("This order is no longer waiting for payment.", code="order_not_pending")
        payment = new_attempt(order, provider_id)
        session.add(payment)
        session.flush()
        order_kinds.on_attempt(session, order, payment)
        request = PaymentRequest(
            idempotency_key=payment.idempotency_key,
            amount=Money(order.amount_minor, order.currency),
            description=order_kinds.description(session, order),
            order_number=order.number,
            customer_email=_customer_email(session, order),
            success_url=f"{public}{urls.PAYMENT_SUCCESS}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{public}{urls.PAYMENT_CANCEL}?session_id={{CHECKOUT_SESSION_ID}}",
            metadata={"payment_id": str(pk(payment))},
        )
        return pk(payment), request


def new_attempt(
    order: Order, provider: str, *, idempotency_key: str | None = None, **columns: Any
) -> Payment:
    """A payment attempt for the whole order, with a fresh idempotency key (the
    provider sees it; a retried call with it never makes a second payment), unless
    the rail gives one that must read well (M-PESA shows it as the account)."""
    return Payment(
        order_id=pk(order),
        provider=provider,
        idempotency_key=idempotency_key or f"pay_{order.number}_{secrets.token_hex(8)}",
        amount_minor=order.amount_minor,
        currency=order.currency,
        **columns,
    )


def _customer_email(session: Session, order: Order) -> str:
    user = session.get(User, order.user_id)
    return user.email if user else ""


def attempt_started(
    payment_id: int, reference: str, redirect_url: str | None, expires_at: int | None = None
) -> None:
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        payment.status = check_payment_transition(payment.status, PaymentStatus.PENDING)
        payment.provider_reference = reference
        payment.redirect_url = redirect_url
        if expires_at is not None:
            payment.expires_at = datetime.fromtimestamp(expires_at, UTC)
        payment.updated_at = utcnow()
        schedule_sync(payment)
        order = lock(session, Order, payment.order_id)
        order.status = check_order_transition(order.status, OrderStatus.AWAITING_PAYMENT)
        order.updated_at = utcnow()
        order_id, user_id = pk(order), order.user_id
    notify.order_changed(order_id, user_id=user_id)


def fail_attempt(payment_id: int, error: PaymentError) -> None:
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        if payment.status in TERMINAL:
            return
        payment.status = check_payment_transition(payment.status, PaymentStatus.FAILED)
        payment.failure_code, payment.failure_message = error.code, error.message[:500]
        payment.provider_reference = payment.provider_reference or error.provider_reference
        payment.updated_at = utcnow()
        order = lock(session, Order, payment.order_id)
        order.status = check_order_transition(order.status, OrderStatus.CANCELLED)
        order_kinds.on_closed(session, order)
        order_id, user_id = pk(order), order.user_id
    notify.order_changed(order_id, user_id=user_id)


def find_payment(*, provider: str, reference: str) -> Payment | None:
    with read_session() as session:
        return session.exec(
            select(Payment).where(Payment.provider == provider, Payment.provider_reference == reference)
        ).first()


def order_with_latest_payment(order_id: int) -> tuple[Order, Payment | None]:
    """An order and its latest payment attempt (for status pages and APIs)."""
    with read_session() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound("We could not find this order.")
        payment = session.exec(
            select(Payment).where(Payment.order_id == order_id).order_by(col(Payment.id).desc())
        ).first()
        return order, payment


def find_payment_for_event(*, provider: str, reference: str) -> Payment | None:
    """The payment a webhook names: by the provider's reference, or by the external
    reference payflow sent with it (its idempotency key; PayHero's callbacks carry
    only that)."""
    with read_session() as session:
        return session.exec(
            select(Payment).where(
                Payment.provider == provider,
                or_(Payment.provider_reference == reference, Payment.idempotency_key == reference),
            )
        ).first()


def find_payment_by_reference(reference: str) -> Payment | None:
    """A payment by the reference its success page carries (``cs_…`` from Stripe
    Checkout, ``wlt_…`` from the wallet): prefixes differ, so it is unambiguous."""
    with read_session() as session:
        return session.exec(select(Payment).where(Payment.provider_reference == reference)).first()


def settle_payment(
    *, payment_id: int, truth: PaymentTruth, cancelled_by_customer: bool = False
) -> fulfilment.Outcome:
    """Apply the provider's truth. Idempotent: the same truth twice changes nothing.
    A success that is late money nobody can deliver answers ``REFUND_DUE``: the caller
    sends the refund (``late_money.send_refund``), outside any transaction."""
    if truth.status is ProviderStatus.SUCCEEDED:
        return fulfilment.fulfil_payment(payment_id=payment_id, truth=truth)
    if truth.status is not ProviderStatus.PENDING:
        closing = {
            ProviderStatus.FAILED: PaymentStatus.FAILED,
            ProviderStatus.CANCELLED: PaymentStatus.CANCELLED,
            ProviderStatus.EXPIRED: PaymentStatus.CANCELLED
            if cancelled_by_customer
            else PaymentStatus.EXPIRED,
        }[truth.status]
        close_payment(payment_id=payment_id, status=closing, truth=truth)
    return fulfilment.Outcome.NOT_PAID


def close_payment(*, payment_id: int, status: PaymentStatus, truth: PaymentTruth | None = None) -> None:
    """End an unpaid attempt (failed, cancelled, expired) and release the order's seats."""
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        order = lock(session, Order, payment.order_id)
        order_id, user_id = pk(order), order.user_id
        if payment.status in TERMINAL:
            if not _refine_reason(payment, truth):
                return
        else:
            _close(session, payment, order, status, truth)
    notify.order_changed(order_id, user_id=user_id)


def _close(
    session: Session, payment: Payment, order: Order, status: PaymentStatus, truth: PaymentTruth | None
) -> None:
    payment.status = check_payment_transition(payment.status, status)
    if truth is not None and truth.failure_code:
        payment.failure_code, payment.failure_message = truth.failure_code, truth.failure_message
    payment.updated_at = utcnow()
    if order.status in (OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT):
        target = OrderStatus.EXPIRED if status is PaymentStatus.EXPIRED else OrderStatus.CANCELLED
        order.status = check_order_transition(order.status, target)
        order.updated_at = utcnow()
        order_kinds.on_closed(session, order)


def _refine_reason(payment: Payment, truth: PaymentTruth | None) -> bool:
    """A closed attempt keeps its status, but when a status query closed it with only
    a bare "failed" and the callback then names the reason (the customer cancelled,
    a wrong PIN), the customer is told the reason. True when it changed."""
    if payment.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED) or truth is None:
        return False
    if payment.failure_code not in COARSE_FAILURE_CODES or not truth.failure_code:
        return False
    if truth.failure_code in COARSE_FAILURE_CODES:
        return False
    payment.failure_code, payment.failure_message = truth.failure_code, truth.failure_message
    payment.updated_at = utcnow()
    return True


def customer_landed(payment_id: int) -> None:
    """The customer is back from the provider (design 3): an order still awaiting its
    payment becomes provisional — shown as processing — until a provider's answer
    promotes it (``fulfilment`` clears the flag when it marks the order paid)."""
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        order = lock(session, Order, payment.order_id)
        if order.status != OrderStatus.AWAITING_PAYMENT or order.provisional_created_at is not None:
            return
        order.is_provisional, order.provisional_created_at = True, utcnow()


def close_abandoned(payment_id: int) -> None:
    """An attempt that never got under way: no card arrived (the widget tab was
    closed) or the provider never answered the start. Nothing was charged."""
    with read_session() as session:
        payment = session.get(Payment, payment_id)
    if payment is None or payment.provider_reference is not None:
        return
    if payment.status == PaymentStatus.CREATED:
        fail_attempt(
            payment_id, PaymentError("never_started", "The payment was never started with the provider.")
        )
    elif payment.status == PaymentStatus.PENDING:
        close_payment(payment_id=payment_id, status=PaymentStatus.EXPIRED)


async def verify_payment(*, payment_id: int, timeout: float | None = None) -> PaymentTruth:
    """Ask the provider for the truth and apply it: the one path of the webhook
    worker, the landing pages and the pending-payment sync to the same idempotent
    fulfilment. What only a stored webhook tells (an M-PESA failure's reason) is
    added from the latest one the provider sent about this payment. ``timeout``
    bounds the provider's answer (TimeoutError); the provider's own HTTP timeouts
    apply besides."""
    payment, latest = await asyncio.to_thread(_payment_and_latest_event, payment_id)
    assert payment.provider_reference is not None
    provider = get_provider(payment.provider)
    asking = provider.fetch_payment(payment.provider_reference)
    if timeout is None:
        truth = await asking
    else:
        try:
            truth = await asyncio.wait_for(asking, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{payment.provider} did not answer its status query within {timeout:g} s"
            ) from None
    if latest is not None:
        truth = provider.refine_truth(truth, json.loads(latest))
    await settle(payment_id=payment_id, truth=truth)
    return truth


def _payment_and_latest_event(payment_id: int) -> tuple[Payment, str | None]:
    """The payment and the raw body of the latest webhook its provider sent about it.

    One reference at a time, each read newest first off its own index, no sort:
    asked for both at once (``IN``), SQLite — without statistics — walked every event
    of the provider by the (provider, event id) index and sorted them, a cost that
    grew with the inbox and was paid by every status check. Only the latest event's
    body is read (it used to load every event of the payment as objects, on the
    event loop)."""
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.provider_reference is None:
            raise NotFound("Unknown payment.")
        found = [
            session.exec(
                select(WebhookEvent.id)
                .where(
                    WebhookEvent.provider_reference == reference,
                    WebhookEvent.provider == payment.provider,
                    WebhookEvent.status != InboxStatus.REJECTED,
                )
                .order_by(col(WebhookEvent.id).desc())
                .limit(1)
            ).first()
            for reference in {payment.provider_reference, payment.idempotency_key}
        ]
        latest_id = max((row_id for row_id in found if row_id is not None), default=None)
        if latest_id is None:
            return payment, None
        return payment, session.exec(select(WebhookEvent.raw_body).where(WebhookEvent.id == latest_id)).one()


async def settle(*, payment_id: int, truth: PaymentTruth, cancelled_by_customer: bool = False) -> None:
    """``settle_payment`` from async code, sending a refund it finds due."""
    outcome = await asyncio.to_thread(
        settle_payment, payment_id=payment_id, truth=truth, cancelled_by_customer=cancelled_by_customer
    )
    if outcome is fulfilment.Outcome.REFUND_DUE:
        await late_money.send_refund(payment_id=payment_id)


def schedule_sync(payment: Payment, *, attempts: int = 0) -> None:
    """When to ask the provider about a payment still pending: soon after it starts,
    then backing off (the payment row is locked by the caller)."""
    settings = get_settings()
    delay = min(settings.pending_sync_max_seconds, settings.pending_sync_first_seconds * 2**attempts)
    payment.next_sync_at = utcnow() + timedelta(seconds=delay)


async def cancel_by_customer(*, provider: str, reference: str) -> Payment:
    """The customer left the pay page: stop the attempt at the provider, then close it.
    If the provider says it was paid after all, it is fulfilled instead."""
    payment = await asyncio.to_thread(find_payment, provider=provider, reference=reference)
    if payment is None:
        raise NotFound("We could not find this payment.")
    if payment.status not in TERMINAL:
        truth = await get_provider(provider).cancel_payment(reference)
        await settle(payment_id=pk(payment), truth=truth, cancelled_by_customer=True)
    refreshed = await asyncio.to_thread(find_payment, provider=provider, reference=reference)
    assert refreshed is not None
    return refreshed
