"""Placing a ticket order: validation, the customer, and capacity held for the order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from payflow_app.models import Event, Order, TicketType, User, pk
from payflow_app.services import numbers
from payflow_app.services.db import write_transaction
from payflow_app.services.errors import InvalidInput, NotFound
from payflow_app.services.states import OrderStatus
from payflow_app.settings import get_settings

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()-]{7,20}$")


@dataclass(frozen=True)
class CheckoutForm:
    full_name: str
    email: str
    phone: str
    ticket_type_id: int
    quantity: int


def validate_form(form: CheckoutForm) -> dict[str, str]:
    """Field errors a person can act on; empty when the form is valid."""
    errors: dict[str, str] = {}
    if not form.full_name.strip():
        errors["full_name"] = "Please enter your full name."
    elif len(form.full_name.strip()) > 200:
        errors["full_name"] = "The name is too long (200 characters at most)."
    if not EMAIL_RE.match(form.email.strip()):
        errors["email"] = "Please enter a valid email address, like name@example.com."
    if form.phone.strip() and not PHONE_RE.match(form.phone.strip()):
        errors["phone"] = "Please enter a valid phone number, digits only, e.g. +48 600 100 200."
    limit = get_settings().max_tickets_per_order
    if not 1 <= form.quantity <= limit:
        errors["quantity"] = f"Choose between 1 and {limit} tickets."
    return errors


def place_order(*, form: CheckoutForm) -> Order:
    """Create a pending order and hold its seats, or raise InvalidInput with the
    reason (including sold out). Nothing is created when anything is invalid."""
    errors = validate_form(form)
    if errors:
        raise InvalidInput(errors)
    with write_transaction() as session:
        ticket_type = session.get(TicketType, form.ticket_type_id)
        if ticket_type is None:
            raise InvalidInput({"ticket_type_id": "Please choose a ticket type."})
        event = session.get(Event, ticket_type.event_id)
        if event is None:
            raise NotFound("This event no longer exists.")
        _hold_seats(session, ticket_type, form.quantity)
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
        return order


def _hold_seats(session: Session, ticket_type: TicketType, quantity: int) -> None:
    # One conditional UPDATE: two buyers of the last seat cannot both get it.
    result = session.execute(
        update(TicketType)
        .where(col(TicketType.id) == ticket_type.id)
        .where(col(TicketType.reserved) + quantity <= col(TicketType.capacity))
        .values(reserved=col(TicketType.reserved) + quantity)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    session.refresh(ticket_type)
    left = ticket_type.capacity - ticket_type.reserved
    message = (
        f"{ticket_type.name} is sold out."
        if left <= 0
        else f"Only {left} {ticket_type.name} ticket{'s' if left != 1 else ''} left."
    )
    raise InvalidInput({"quantity": message})


def release_seats(session: Session, order: Order) -> None:
    session.execute(
        update(TicketType)
        .where(col(TicketType.id) == order.ticket_type_id)
        .values(reserved=col(TicketType.reserved) - order.quantity)
    )


def _customer(session: Session, form: CheckoutForm) -> User:
    email = form.email.strip().lower()
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, full_name=form.full_name.strip(), phone=form.phone.strip() or None)
        session.add(user)
        session.flush()
    return user
