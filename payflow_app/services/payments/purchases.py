"""What a signed-in customer buys besides tickets (wallet top-ups, gallery
publication, plan upgrades), the dry run that decides how an order is paid, and the
wallet rail that settles an order at once.

The dry run (``quote``) answers *wallet* when the customer's balance in the order's
currency covers the amount, else *card* (Stripe Checkout). A top-up is always paid
by card: a wallet cannot fund itself."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import col, func, select

from payflow_app.core import notify, numbers
from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.money import Money, typed_amount
from payflow_app.core.states import Kind, OrderStatus, PaymentStatus
from payflow_app.emails.sender import wake_sender
from payflow_app.models import Event, Gallery, Order, Payment, TicketType, User, pk, utcnow
from payflow_app.services.accounts import plans, wallet
from payflow_app.services.payments import attempts, eligibility, fulfilment, order_kinds


class Method(StrEnum):
    WALLET = "wallet"
    CARD = "card"


@dataclass(frozen=True)
class Quote:
    """The dry run's answer: how the purchase would be paid, and the amounts."""

    method: Method
    amount: Money
    wallet_balance: Money
    balance_after: Money | None  # only when paid from the wallet


def quote(*, user_id: int | None, amount: Money, kind: str) -> Quote:
    balance = (
        wallet.balance(user_id=user_id, currency=amount.currency) if user_id else Money(0, amount.currency)
    )
    if kind != Kind.TOP_UP and user_id is not None and balance.amount >= amount.amount:
        return Quote(Method.WALLET, amount, balance, Money(balance.amount - amount.amount, amount.currency))
    return Quote(Method.CARD, amount, balance, None)


def ticket_amount(*, ticket_type_id: int, quantity: int) -> Money:
    with read_session() as session:
        ticket_type = session.get(TicketType, ticket_type_id)
        if ticket_type is None:
            raise NotFound("Unknown ticket type.")
        event = session.get(Event, ticket_type.event_id)
        assert event is not None
        return Money(ticket_type.price_minor * max(quantity, 0), event.currency)


def _new_order(
    *, user_id: int, kind: Kind, amount: Money, gallery_id: int | None = None, plan_code: str | None = None
) -> Order:
    return Order(
        number=numbers.order_number(),
        kind=kind,
        user_id=user_id,
        quantity=1,
        unit_price_minor=amount.amount,
        amount_minor=amount.amount,
        currency=amount.currency,
        status=OrderStatus.PENDING,
        gallery_id=gallery_id,
        plan_code=plan_code,
    )


def top_up_amount(text: str, currency: str, lang: str = "en") -> Money:
    """Parse what a customer typed, the way their language writes it (``50``, ``50,50``,
    ``1 500,00`` in Polish; ``1,500.00`` in English), into minor units within the
    top-up limits. Raises InvalidInput(amount=i18n key)."""
    if currency not in plans.TOP_UP_LIMITS:
        raise InvalidInput({"currency": "topup.error.currency"})
    try:
        minor = typed_amount(text, currency, lang)
    except ValueError:
        raise InvalidInput({"amount": "topup.error.amount"}) from None
    low, high = plans.TOP_UP_LIMITS[currency]
    if not low <= minor <= high:
        raise InvalidInput({"amount": "topup.error.range"})
    return Money(minor, currency)


def place_top_up(*, user_id: int, amount: Money) -> Order:
    with write_transaction() as session:
        order = _new_order(user_id=user_id, kind=Kind.TOP_UP, amount=amount)
        session.add(order)
        session.flush()
        return order


def place_plan_upgrade(*, user_id: int, plan_code: str) -> Order:
    """An order for a plan above the customer's (and above any plan already paid
    for); judged again when it is paid (``services.payments.eligibility``)."""
    with write_transaction() as session:
        refused = eligibility.plan_refusal(session, user_id=user_id, plan_code=plan_code)
        if refused is not None:
            raise refused
        chosen = plans.PLANS[plan_code]
        order = _new_order(user_id=user_id, kind=Kind.PLAN, amount=chosen.price, plan_code=chosen.code)
        session.add(order)
        session.flush()
        return order


def create_gallery(*, user_id: int, title: str) -> Gallery:
    title = title.strip()
    if not title or len(title) > 120:
        raise InvalidInput({"title": "gallery.error.title"})
    with write_transaction() as session:
        user = lock(session, User, user_id)
        count = session.exec(
            select(func.count()).select_from(Gallery).where(Gallery.user_id == user_id)
        ).one()
        if count >= user.gallery_limit:
            raise DomainError("Your plan's gallery limit is reached.", code="gallery_limit")
        gallery = Gallery(user_id=user_id, title=title)
        session.add(gallery)
        session.flush()
    notify.account_changed(user_id)
    return gallery


def place_gallery_publication(*, user_id: int, gallery_id: int) -> Order:
    """An order to publish a draft gallery. Refused while another payment for the
    gallery is open (the lock) or once it is active."""
    with write_transaction() as session:
        gallery = lock(session, Gallery, gallery_id)
        if gallery.user_id != user_id:
            raise NotFound("Gallery not found.")
        if gallery.status != "draft":
            raise DomainError("This gallery is already published.", code="gallery_active")
        open_order = session.exec(
            select(Order.id).where(
                Order.gallery_id == gallery_id,
                col(Order.status).in_([OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT]),
            )
        ).first()
        if gallery.locked_by_payment_id is not None or open_order is not None:
            raise DomainError("A payment for this gallery is already in progress.", code="gallery_locked")
        order = _new_order(
            user_id=user_id, kind=Kind.GALLERY, amount=plans.GALLERY_PUBLICATION_PRICE, gallery_id=gallery_id
        )
        session.add(order)
        session.flush()
        return order


def pay_from_wallet(*, order_id: int) -> Payment:
    """Settle a pending order from the wallet in one transaction: the debit, the
    payment, and every fulfilment step commit together or not at all. Raises
    InsufficientFunds when the balance does not cover it, and the eligibility's
    refusal (``plan_not_upgrade``, ``gallery_active``, …) when the customer got what
    it buys meanwhile; either way nothing changes."""
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.status != OrderStatus.PENDING:
            raise DomainError("This order is no longer waiting for payment.", code="order_not_pending")
        if order.kind == Kind.TOP_UP:
            raise DomainError("A top-up cannot be paid from the wallet.", code="top_up_from_wallet")
        # The customer first: every wallet purchase and plan change of theirs waits
        # here for the one before (the order's later steps lock it in this order too).
        lock(session, User, order.user_id)
        refused = eligibility.refusal(session, order)
        if refused is not None:
            raise refused
        now = utcnow()
        payment = Payment(
            order_id=order_id,
            provider="wallet",
            provider_reference=f"wlt_{secrets.token_hex(12)}",
            idempotency_key=f"pay_{order.number}_wallet",  # unique: one wallet payment per order
            amount_minor=order.amount_minor,
            currency=order.currency,
            status=PaymentStatus.SUCCEEDED,
            succeeded_at=now,
        )
        session.add(payment)
        session.flush()
        entry = wallet.debit_purchase(session, user_id=order.user_id, payment=payment)
        payment.receipt_number = f"WLT-{pk(entry):08d}"
        fulfilment.settle_instantly(session, order=order, payment=payment)
        user_id = order.user_id
    notify.order_changed(order_id, user_id=user_id)
    wake_sender()
    return payment


def abandon_order(*, order_id: int) -> None:
    """Cancel an order that never got a payment (e.g. the wallet fell short between
    the dry run and the confirmation), giving back what it held."""
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.status != OrderStatus.PENDING:
            return
        order.status, order.updated_at = OrderStatus.CANCELLED, utcnow()
        order_kinds.on_closed(session, order)
        user_id = order.user_id
    notify.order_changed(order_id, user_id=user_id)


@dataclass(frozen=True)
class PaymentStarted:
    method: Method
    reference: str  # the payment's provider reference (``wlt_…`` or ``cs_…``)
    redirect_url: str | None  # where the card rail continues; None when settled


async def pay(*, order_id: int, method: Method) -> PaymentStarted:
    """Pay a pending order the way the dry run chose. The wallet settles here and
    now; the card rail answers the provider's payment page. On failure the order is
    cancelled (nothing held stays held) and the error is raised."""
    if method is Method.WALLET:
        try:
            payment = await asyncio.to_thread(pay_from_wallet, order_id=order_id)
        except DomainError:
            await asyncio.to_thread(abandon_order, order_id=order_id)
            raise
        return PaymentStarted(method, payment.provider_reference or "", None)
    try:
        started = await attempts.start_order_payment(order_id=order_id)
    except DomainError:
        await asyncio.to_thread(abandon_order, order_id=order_id)
        raise
    return PaymentStarted(method, started.provider_reference, started.redirect_url)
