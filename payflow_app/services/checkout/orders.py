"""Placing a ticket order: validation, the customer, and capacity held for the order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from payflow_app.core import numbers
from payflow_app.core.db import write_transaction
from payflow_app.core.errors import InvalidInput, NotFound
from payflow_app.core.states import OrderStatus
from payflow_app.i18n import format_datetime, t
from payflow_app.models import Event, Order, TicketType, User, pk
from payflow_app.services.accounts import customers, throttle
from payflow_app.services.accounts.customers import customer_errors
from payflow_app.services.tickets.seats import create_pending_tickets, hold_seats, sale_state
from payflow_app.settings import get_settings

PHONE_RE = re.compile(r"^\+?[0-9 ()-]{7,20}$")


@dataclass(frozen=True)
class CheckoutForm:
    full_name: str
    email: str
    phone: str
    ticket_type_id: int
    quantity: int
    language: str = "en"
    # The signed-in customer, when there is one: the order is theirs whatever email
    # the form carries. A guest's order goes to the account of the email (created
    # with a temporary password when new).
    user_id: int | None = None
    # Where a guest's checkout comes from (pages and API): guest checkouts are
    # limited per address and per email (``services.accounts.throttle``).
    client_address: str | None = None


def validate_form(form: CheckoutForm) -> dict[str, str]:
    """Field errors a person can act on, in the form's language; empty when valid."""
    lang = form.language
    errors = customer_errors(full_name=form.full_name, email=form.email, lang=lang)
    if form.phone.strip() and not PHONE_RE.match(form.phone.strip()):
        errors["phone"] = t(lang, "checkout.error.phone")
    limit = get_settings().max_tickets_per_order
    if not 1 <= form.quantity <= limit:
        errors["quantity"] = t(lang, "checkout.error.quantity", limit=limit)
    return errors


def place_order(*, form: CheckoutForm, with_pending_tickets: bool = False) -> Order:
    """Create a pending order and hold its seats, or raise InvalidInput with the
    reason (including sold out). Nothing is created when anything is invalid.
    A new customer's account is created with it (its welcome email waits for the
    payment: ``accounts.welcome_new_customer``). A guest checkout from a client
    address counts against its limits (TooManyAttempts), unless it is refused.
    ``with_pending_tickets``: the order's tickets exist at once, without QR codes
    (M-PESA orders, see :func:`create_pending_tickets`)."""
    errors = validate_form(form)
    if errors:
        raise InvalidInput(errors)
    with write_transaction() as session:
        if form.user_id is None and form.client_address is not None:
            throttle.count_guest_checkout(session, email=form.email, address=form.client_address)
        ticket_type = session.get(TicketType, form.ticket_type_id)
        if ticket_type is None:
            raise InvalidInput({"ticket_type_id": t(form.language, "checkout.error.choose_type")})
        event = session.get(Event, ticket_type.event_id)
        if event is None:
            raise NotFound("This event no longer exists.")
        _check_on_sale(ticket_type, event, form.language)
        _hold_seats(session, ticket_type, form.quantity, form.language)
        # Holding the seats locked the ticket type: an organizer's edit of its price or
        # of the event's currency is now either committed (read it) or waits for us.
        session.refresh(ticket_type)
        session.refresh(event)
        user = _customer(session, form)
        order = Order(
            number=numbers.order_number(),
            user_id=pk(user),
            event_id=pk(event),
            ticket_type_id=pk(ticket_type),
            quantity=form.quantity,
            unit_price_minor=ticket_type.price_minor,
            amount_minor=ticket_type.price_minor * form.quantity,
            currency=event.currency,
            status=OrderStatus.PENDING,
        )
        session.add(order)
        session.flush()
        if with_pending_tickets:
            create_pending_tickets(session, order)
        return order


def _check_on_sale(ticket_type: TicketType, event: Event, lang: str) -> None:
    state = sale_state(ticket_type, event_starts_at=event.starts_at)
    if state == "not_yet":
        assert ticket_type.sales_start_at is not None
        when = format_datetime(ticket_type.sales_start_at, lang)
        raise InvalidInput(
            {"ticket_type_id": t(lang, "checkout.error.not_yet", name=ticket_type.name, when=when)}
        )
    if state == "ended":
        raise InvalidInput({"ticket_type_id": t(lang, "checkout.error.sales_ended", name=ticket_type.name)})


def _hold_seats(session: Session, ticket_type: TicketType, quantity: int, lang: str) -> None:
    if hold_seats(session, ticket_type_id=pk(ticket_type), quantity=quantity):
        return
    session.refresh(ticket_type)
    left = ticket_type.capacity - ticket_type.reserved
    message = (
        t(lang, "checkout.error.sold_out", name=ticket_type.name)
        if left <= 0
        else t(lang, "checkout.error.only_left", count=left, name=ticket_type.name)
    )
    raise InvalidInput({"quantity": message})


def _customer(session: Session, form: CheckoutForm) -> User:
    if form.user_id is not None:
        user = session.get(User, form.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        return user
    return customers.customer_for_checkout(
        session,
        email=form.email,
        full_name=form.full_name,
        phone=form.phone.strip() or None,
        language=form.language,
    )
