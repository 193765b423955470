"""Card payments through a widget token (UnivaPay), with 3-D Secure when the issuer
asks for it.

The payment row exists, ``pending``, before the card is known: the provider's widget
turns the card into a transaction token and the browser posts it back, naming the
payment by its public id. ``charge_card`` then charges the token once — a second post
for the same payment (double click, back button) answers where the first one stands
and never charges again; the provider also gets the payment's idempotency key.
The charge succeeds at once, needs the customer at the issuer (3DS), or fails; the
final word of a 3DS charge comes from the webhook or from asking the provider, both
through the one idempotent fulfilment (``payments.verify_payment``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import select

from payflow_app.core import notify, urls
from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, NotFound
from payflow_app.core.money import Money
from payflow_app.core.states import OrderStatus, PaymentStatus, check_order_transition
from payflow_app.models import Order, Payment, User, pk, utcnow
from payflow_app.providers import get_provider
from payflow_app.providers.base import NextAction, PaymentError, PaymentRequest, ProviderStatus
from payflow_app.services.payments import attempts, order_kinds
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
PROVIDER = "univapay"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"  # paid: the success page shows the credentials
    AUTHENTICATE = "authenticate"  # 3-D Secure: send the customer to the issuer
    PROCESSING = "processing"  # the provider is still deciding: the return page waits
    FAILED = "failed"  # the cancel page shows why, with a retry link


@dataclass(frozen=True)
class CardCharge:
    payment_id: str  # the public id
    outcome: Outcome
    next_url: str  # where the customer goes next (absolute for the issuer, else a path)


def open_card_payment(*, order_id: int) -> Payment:
    """The pending card payment of a pending order; the order now awaits payment."""
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.status != OrderStatus.PENDING:
            raise DomainError("This order is no longer waiting for payment.", code="order_not_pending")
        payment = attempts.new_attempt(order, PROVIDER, status=PaymentStatus.PENDING)
        session.add(payment)
        session.flush()
        order_kinds.on_attempt(session, order, payment)
        order.status = check_order_transition(order.status, OrderStatus.AWAITING_PAYMENT)
        order.updated_at = utcnow()
        user_id = order.user_id
    notify.order_changed(order_id, user_id=user_id)
    return payment


def find_by_public_id(public_id: str) -> Payment | None:
    with read_session() as session:
        return session.exec(select(Payment).where(Payment.public_id == public_id)).first()


async def charge_card(*, public_id: str, token: str) -> CardCharge:
    """Charge the widget's token for the payment, once, and say where the customer goes."""
    payment = await asyncio.to_thread(find_by_public_id, public_id)
    if payment is None or payment.provider != PROVIDER:
        raise NotFound("We could not find this payment.")
    if payment.provider_reference is not None or payment.status != PaymentStatus.PENDING:
        return where_it_stands(payment)
    request = await asyncio.to_thread(_charge_request, payment, token)
    try:
        started = await get_provider(PROVIDER).start_payment(request)
    except PaymentError as exc:
        log.info("card charge for payment %s refused: %s %s", payment.id, exc.code, exc.message)
        await asyncio.to_thread(attempts.fail_attempt, pk(payment), exc)
        return CardCharge(public_id, Outcome.FAILED, urls.card_page(urls.CARD_CANCEL, public_id))
    await asyncio.to_thread(_charge_created, pk(payment), started.provider_reference)
    if started.status is ProviderStatus.SUCCEEDED:
        # Fulfil now, in this request: the success page can show the credentials at once.
        await attempts.verify_payment(payment_id=pk(payment))
        return CardCharge(public_id, Outcome.SUCCEEDED, urls.card_page(urls.CARD_SUCCESS, public_id))
    if started.next_action is NextAction.REDIRECT and started.redirect_url:
        return CardCharge(public_id, Outcome.AUTHENTICATE, started.redirect_url)
    return CardCharge(public_id, Outcome.PROCESSING, urls.card_page(urls.CARD_RETURN, public_id))


def payer_email(payment: Payment) -> str:
    """The email of the customer paying (the widget asks for it; we fill it in)."""
    with read_session() as session:
        order = session.get(Order, payment.order_id)
        user = session.get(User, order.user_id) if order else None
        return user.email if user else ""


def where_it_stands(payment: Payment) -> CardCharge:
    """Where a payment already charged (or closed) sends its customer."""
    public_id = payment.public_id or ""
    if payment.status == PaymentStatus.SUCCEEDED:
        return CardCharge(public_id, Outcome.SUCCEEDED, urls.card_page(urls.CARD_SUCCESS, public_id))
    if payment.status in attempts.TERMINAL or payment.status == PaymentStatus.REQUIRES_REVIEW:
        return CardCharge(public_id, Outcome.FAILED, urls.card_page(urls.CARD_CANCEL, public_id))
    return CardCharge(public_id, Outcome.PROCESSING, urls.card_page(urls.CARD_RETURN, public_id))


def _charge_request(payment: Payment, token: str) -> PaymentRequest:
    public = get_settings().public_url
    with read_session() as session:
        order = session.get(Order, payment.order_id)
        assert order is not None
        user = session.get(User, order.user_id)
        return PaymentRequest(
            idempotency_key=payment.idempotency_key,
            amount=Money(payment.amount_minor, payment.currency),
            description=order_kinds.description(session, order),
            order_number=order.number,
            customer_email=user.email if user else "",
            # The issuer sends the customer back here after 3-D Secure.
            success_url=f"{public}{urls.card_page(urls.CARD_CALLBACK, payment.public_id or '')}",
            cancel_url=f"{public}{urls.card_page(urls.CARD_CANCEL, payment.public_id or '')}",
            token=token,
            metadata={"payment_id": payment.public_id or ""},
        )


def _charge_created(payment_id: int, reference: str) -> None:
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        if payment.provider_reference not in (None, reference):
            # Two posts raced with different tokens; the idempotency key kept one charge.
            log.error(
                "payment %s already has charge %s, not %s", payment_id, payment.provider_reference, reference
            )
            return
        payment.provider_reference = reference
        payment.updated_at = utcnow()
        attempts.schedule_sync(payment)


def cancel_uncharged(*, public_id: str) -> Payment | None:
    """The customer left the card widget: a payment with no charge yet is cancelled
    (the order with it). A charged payment is left to the provider's word."""
    with write_transaction() as session:
        found = session.exec(select(Payment).where(Payment.public_id == public_id)).first()
        if found is None:
            return None
        payment = lock(session, Payment, pk(found))
        if payment.provider_reference is not None or payment.status != PaymentStatus.PENDING:
            return payment
    attempts.close_payment(payment_id=pk(payment), status=PaymentStatus.CANCELLED)
    return find_by_public_id(public_id)
