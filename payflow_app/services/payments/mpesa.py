"""Ticket orders paid with M-PESA: an STK push through PayHero to the customer's phone.

Direct checkout validates the customer (name, email, a Kenyan phone number in any
common form), finds or creates the account, places the order with its tickets (no QR
code until paid) and pushes the payment prompt to the phone. The customer answers on
the phone; the callback, the status query of the pending-payment sync, or the
waiting page settle the payment through the one idempotent fulfilment.

One prompt at a time: a second push for an order, or to a phone, that already has
one waiting is refused (M-PESA itself would answer "transaction in progress")."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.money import Money
from payflow_app.core.phones import normalise_kenyan_phone
from payflow_app.core.states import OrderStatus, PaymentStatus
from payflow_app.i18n import t
from payflow_app.models import Event, Order, Payment, TicketType, User, pk, utcnow
from payflow_app.providers import get_provider
from payflow_app.providers.base import PaymentError, PaymentRequest
from payflow_app.services.checkout import lookup
from payflow_app.services.checkout.orders import CheckoutForm, place_order, validate_form
from payflow_app.services.payments import attempts, order_kinds

PROVIDER = "payhero"
CURRENCY = "KES"
# How long a phone counts as busy with an unanswered prompt from another order.
PHONE_BUSY_FOR = timedelta(minutes=5)
WAITING = (PaymentStatus.CREATED, PaymentStatus.PENDING)


class PromptPending(DomainError):
    code = "mpesa_prompt_pending"


def validate(form: CheckoutForm) -> tuple[CheckoutForm, dict[str, str]]:
    """The form with its phone normalised to 2547XXXXXXXX, and the field errors."""
    errors = validate_form(replace(form, phone=""))
    phone = normalise_kenyan_phone(form.phone)
    if phone is None:
        errors["phone"] = t(form.language, "mpesa.error.phone")
    with read_session() as session:
        ticket_type = session.get(TicketType, form.ticket_type_id)
        event = session.get(Event, ticket_type.event_id) if ticket_type else None
    if event is None:
        errors["ticket_type_id"] = t(form.language, "checkout.error.choose_type")
    elif event.currency != CURRENCY:
        errors["payment_method"] = t(form.language, "mpesa.error.currency")
    return replace(form, phone=phone or form.phone), errors


async def direct_checkout(*, form: CheckoutForm) -> Order:
    """Place the order and push the prompt. Invalid input raises InvalidInput and
    creates nothing; a refused push cancels the order (its seats are released) and
    raises PaymentError with the reason."""
    form, errors = await asyncio.to_thread(validate, form)
    if errors:
        raise InvalidInput(errors)
    await asyncio.to_thread(refuse_busy_phone, form.phone, form.language)
    order = await asyncio.to_thread(place_order, form=form, with_pending_tickets=True)
    await push_prompt(order_id=pk(order), phone=form.phone, language=form.language)
    return order


async def prompt_again(
    *, reference: str, phone: str | None, language: str, client_address: str | None
) -> Order:
    """The same tickets again after a prompt that was cancelled or failed, to the same
    phone or to ``phone``. The closed order released its seats, so this is a new order
    (seats held again, a prompt of its own) with the first one's customer, tickets
    and quantity — a guest's checkout, throttled like one. An order still waiting for
    its prompt, or paid, is refused."""
    order, last = await asyncio.to_thread(order_for_prompt, reference)
    if order.status not in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        raise DomainError(t(language, "mpesa.error.not_closed"), code="order_not_closed")
    with read_session() as session:
        customer = session.get(User, order.user_id)
    if customer is None or order.ticket_type_id is None:
        raise NotFound("We could not find this order.")
    form = CheckoutForm(
        full_name=customer.full_name,
        email=customer.email,
        phone=phone or last.payer_phone or "",
        ticket_type_id=order.ticket_type_id,
        quantity=order.quantity,
        language=language,
        client_address=client_address,
    )
    return await direct_checkout(form=form)


def order_for_prompt(reference: str) -> tuple[Order, Payment]:
    """The M-PESA order a prompt may be pushed again for, by its public reference (only
    whoever holds the order's link may push), and its latest M-PESA attempt. Another
    rail's order, a row id or a made-up reference is NotFound."""
    order, _ = lookup.order_by_reference(reference)
    with read_session() as session:
        last = session.exec(
            select(Payment)
            .where(Payment.order_id == pk(order), Payment.provider == PROVIDER)
            .order_by(col(Payment.id).desc())
        ).first()
    if last is None:
        raise NotFound("We could not find this order.")
    return order, last


async def push_prompt(*, order_id: int, phone: str, language: str = "en") -> Payment:
    """Send the STK push for a pending order (also a retry after a push that never
    reached the phone). Refused while a prompt for the order or the phone waits."""
    payment_id, request = await asyncio.to_thread(_create_attempt, order_id, phone, language)
    try:
        started = await get_provider(PROVIDER).start_payment(request)
    except PaymentError as exc:
        await asyncio.to_thread(attempts.fail_attempt, payment_id, exc)
        raise
    await asyncio.to_thread(attempts.attempt_started, payment_id, started.provider_reference, None)
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment


def _create_attempt(order_id: int, phone: str, language: str) -> tuple[int, PaymentRequest]:
    with write_transaction() as session:
        order = lock(session, Order, order_id)  # serialises two pushes for one order
        waiting = session.exec(
            select(Payment).where(
                Payment.order_id == order_id, Payment.provider == PROVIDER, col(Payment.status).in_(WAITING)
            )
        ).first()
        if waiting is not None:
            raise PromptPending(t(language, "mpesa.error.prompt_pending"))
        if order.status != OrderStatus.PENDING:
            raise DomainError(t(language, "mpesa.error.order_closed"), code="order_not_pending")
        _refuse_busy_phone(session, phone, order_id, language)
        payment = attempts.new_attempt(
            order, PROVIDER, idempotency_key=_account(session, order), payer_phone=phone
        )
        session.add(payment)
        session.flush()
        user = session.get(User, order.user_id)
        request = PaymentRequest(
            idempotency_key=payment.idempotency_key,
            amount=Money(order.amount_minor, order.currency),
            description=order_kinds.description(session, order),
            order_number=order.number,
            customer_email=user.email if user else "",
            success_url="",
            cancel_url="",
            phone=phone,
            metadata={"customer_name": user.full_name if user else ""},
        )
        return pk(payment), request


def _account(session: Session, order: Order) -> str:
    """What the customer's phone shows as the account in the prompt and the SMS: the
    order number (``-2``, ``-3`` for later attempts, so each key stays unique)."""
    earlier = session.exec(
        select(func.count())
        .select_from(Payment)
        .where(Payment.order_id == pk(order), Payment.provider == PROVIDER)
    ).one()
    return order.number if earlier == 0 else f"{order.number}-{earlier + 1}"


def refuse_busy_phone(phone: str, language: str) -> None:
    """Refuse before an order is placed when the phone already has a prompt waiting."""
    with read_session() as session:
        _refuse_busy_phone(session, phone, None, language)


def _refuse_busy_phone(session: Session, phone: str, order_id: int | None, language: str) -> None:
    busy = session.exec(
        select(Payment).where(
            Payment.provider == PROVIDER,
            Payment.payer_phone == phone,
            col(Payment.status).in_(WAITING),
            col(Payment.created_at) >= utcnow() - PHONE_BUSY_FOR,
            Payment.order_id != (order_id or 0),
        )
    ).first()
    if busy is not None:
        raise PromptPending(t(language, "mpesa.error.phone_busy"))
