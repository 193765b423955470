"""An organizer's events and ticket types: who may touch which event, and the edits
that must not break tickets already sold.

Every function takes the acting user and answers :class:`NotFound` for an event that
is not theirs, exactly as for one that does not exist: an organizer learns nothing
about another's events. Admins (operators) may act on every event.

Times are typed in UTC (the whole product shows UTC); amounts are typed in major
units (``120.00``) and stored as integer minor units.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.inputs import MAX_INT, whole_number
from payflow_app.core.money import EXPONENTS, CurrencyError, format_money, parse_amount
from payflow_app.core.states import PAID_ORDER_STATUSES, OrderStatus
from payflow_app.models import Event, Order, TicketType, utcnow
from payflow_app.services.accounts.customers import SessionUser

ORGANIZER_ROLES = ("organizer", "admin")
# Orders whose seats count as sold or held: their currency is the event's.
SELLING = (OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.FULFILLED)
MAX_CAPACITY = 1_000_000
MAX_PRICE = MAX_INT // 100  # minor units: an order of 100 seats stays within an INTEGER column


class NotOrganizer(DomainError):
    code = "not_organizer"


def require_organizer(user: SessionUser | None) -> SessionUser:
    if user is None or user.role not in ORGANIZER_ROLES:
        raise NotOrganizer("Only organizers manage events.")
    return user


def owned_event(session: Session, user: SessionUser, event_id: int) -> Event:
    """The event if ``user`` may manage it; NotFound otherwise (never "forbidden")."""
    require_organizer(user)
    event = session.get(Event, event_id)
    if event is None or (user.role != "admin" and event.organizer_id != user.id):
        raise NotFound("No event of yours has this id.")
    return event


def event_of(user: SessionUser, event_id: int) -> Event:
    with read_session() as session:
        return owned_event(session, user, event_id)


def my_events(user: SessionUser) -> list[Event]:
    require_organizer(user)
    with read_session() as session:
        query = select(Event).order_by(col(Event.starts_at).desc())
        if user.role != "admin":
            query = query.where(Event.organizer_id == user.id)
        return list(session.exec(query).all())


# Events --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventForm:
    title: str
    description: str
    venue: str
    starts_at: str  # ``2026-12-01T19:00`` (an HTML datetime-local value), UTC
    currency: str


def parse_time(text: str) -> datetime | None:
    """``2026-12-01T19:00`` or ``2026-12-01 19:00`` as aware UTC; None if it is not."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _event_errors(form: EventForm) -> tuple[dict[str, str], datetime | None]:
    errors: dict[str, str] = {}
    if not form.title.strip():
        errors["title"] = "Give the event a title."
    elif len(form.title.strip()) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if not form.venue.strip():
        errors["venue"] = "Say where it happens."
    elif len(form.venue.strip()) > 200:
        errors["venue"] = "Keep the venue under 200 characters."
    if len(form.description) > 5000:
        errors["description"] = "Keep the description under 5000 characters."
    starts_at = parse_time(form.starts_at)
    if starts_at is None:
        errors["starts_at"] = "Give the date and time it starts (UTC)."
    if form.currency.upper() not in EXPONENTS:
        errors["currency"] = f"Choose a currency: {', '.join(sorted(EXPONENTS))}."
    return errors, starts_at


def _slug(title: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "event"
    return f"{base}-{secrets.token_hex(3)}"


def create_event(user: SessionUser, form: EventForm) -> Event:
    require_organizer(user)
    errors, starts_at = _event_errors(form)
    if errors:
        raise InvalidInput(errors)
    assert starts_at is not None
    with write_transaction() as session:
        event = Event(
            slug=_slug(form.title),
            title=form.title.strip(),
            description=form.description.strip(),
            venue=form.venue.strip(),
            starts_at=starts_at,
            currency=form.currency.upper(),
            organizer_id=user.id,
        )
        session.add(event)
        session.flush()
        return event


def seats_taken(session: Session, event_id: int) -> int:
    """Seats of the event's orders that are sold or held for a payment."""
    total = session.exec(
        select(func.coalesce(func.sum(Order.quantity), 0)).where(
            Order.event_id == event_id, col(Order.status).in_(SELLING)
        )
    ).one()
    return int(total)


def sales_summaries(event_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(tickets sold in paid orders, total capacity) per event, two grouped queries."""
    with read_session() as session:
        sold = dict(
            session.exec(
                select(Order.event_id, func.sum(Order.quantity))
                .where(col(Order.event_id).in_(event_ids), col(Order.status).in_(PAID_ORDER_STATUSES))
                .group_by(col(Order.event_id))
            ).all()
        )
        capacity = dict(
            session.exec(
                select(TicketType.event_id, func.sum(TicketType.capacity))
                .where(col(TicketType.event_id).in_(event_ids))
                .group_by(col(TicketType.event_id))
            ).all()
        )
    return {e: (int(sold.get(e, 0)), int(capacity.get(e, 0))) for e in event_ids}


def set_event_image(user: SessionUser, event_id: int, image_name: str) -> Event:
    """The event's picture (a name from ``services.organizer.images``)."""
    with write_transaction() as session:
        event = owned_event(session, user, event_id)
        event.image_name, event.updated_at = image_name, utcnow()
        return event


def _reprice(session: Session, event_id: int, old: str, new: str) -> None:
    """Prices keep the amount the organizer typed (120.00 zł → €120.00, ¥1,500 →
    1,500.00 zł); a price with decimals the new currency has not is refused."""
    old_exp, new_exp = EXPONENTS[old], EXPONENTS[new]
    if old_exp == new_exp:
        return
    for ticket_type in session.exec(select(TicketType).where(TicketType.event_id == event_id)).all():
        scaled, rest = divmod(ticket_type.price_minor * 10**new_exp, 10**old_exp)
        if rest:
            raise InvalidInput(
                {
                    "currency": f"{ticket_type.name} costs {format_money(ticket_type.price_minor, old)}: {new} has "
                    f"no decimals for it. Round its price first."
                }
            )
        ticket_type.price_minor = scaled


def update_event(user: SessionUser, event_id: int, form: EventForm) -> Event:
    errors, starts_at = _event_errors(form)
    if errors:
        raise InvalidInput(errors)
    assert starts_at is not None
    with write_transaction() as session:
        event = owned_event(session, user, event_id)
        currency = form.currency.upper()
        if currency != event.currency:
            # Checkout holds seats with an UPDATE of its ticket type: locking the event's
            # types makes a checkout in flight finish first (its order is then counted)
            # or wait for this edit (and price its order in the new currency).
            session.exec(select(TicketType.id).where(TicketType.event_id == event_id).with_for_update()).all()
        if currency != event.currency:
            if seats_taken(session, event_id) > 0:
                raise InvalidInput(
                    {
                        "currency": f"Tickets are sold in {event.currency}: the currency cannot change after sales."
                    }
                )
            _reprice(session, event_id, event.currency, currency)
        event.title, event.description, event.venue = (
            form.title.strip(),
            form.description.strip(),
            form.venue.strip(),
        )
        event.starts_at, event.currency = starts_at, currency
        event.updated_at = utcnow()
        return event


# Ticket types --------------------------------------------------------------------


@dataclass(frozen=True)
class TicketTypeForm:
    name: str
    price: str  # major units: ``120`` or ``120.50``
    capacity: str
    sales_start: str = ""  # empty: on sale now
    sales_end: str = ""  # empty: until the event


@dataclass(frozen=True)
class _TypeValues:
    name: str
    price_minor: int
    capacity: int
    sales_start_at: datetime | None
    sales_end_at: datetime | None


def _type_values(form: TicketTypeForm, currency: str) -> _TypeValues:
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not name:
        errors["name"] = "Name the ticket type."
    elif len(name) > 120:
        errors["name"] = "Keep the name under 120 characters."
    price = 0
    try:
        price = parse_amount(form.price, currency)
    except (ValueError, CurrencyError):
        places = EXPONENTS.get(currency, 2)
        errors["price"] = f"Type the price in {currency}, e.g. {'120' if places == 0 else '120.00'}."
    if price <= 0 and "price" not in errors:
        errors["price"] = "A ticket type needs a price above zero."
    elif price > MAX_PRICE and "price" not in errors:  # an order of many seats must still fit
        errors["price"] = f"A ticket costs at most {format_money(MAX_PRICE, currency)}."
    capacity = whole_number(form.capacity, minimum=0, maximum=MAX_CAPACITY) or -1
    if not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = f"Capacity is a whole number from 1 to {MAX_CAPACITY:,}."
    start = parse_time(form.sales_start) if form.sales_start.strip() else None
    end = parse_time(form.sales_end) if form.sales_end.strip() else None
    if form.sales_start.strip() and start is None:
        errors["sales_start"] = "Give the date and time sales open (UTC), or leave it empty."
    if form.sales_end.strip() and end is None:
        errors["sales_end"] = "Give the date and time sales close (UTC), or leave it empty."
    if start and end and end <= start:
        errors["sales_end"] = "Sales must close after they open."
    if errors:
        raise InvalidInput(errors)
    return _TypeValues(name, price, capacity, start, end)


def add_ticket_type(user: SessionUser, event_id: int, form: TicketTypeForm) -> TicketType:
    with write_transaction() as session:
        event = owned_event(session, user, event_id)
        values = _type_values(form, event.currency)
        ticket_type = TicketType(
            event_id=event_id,
            name=values.name,
            price_minor=values.price_minor,
            capacity=values.capacity,
            sales_start_at=values.sales_start_at,
            sales_end_at=values.sales_end_at,
        )
        session.add(ticket_type)
        session.flush()
        return ticket_type


def update_ticket_type(user: SessionUser, ticket_type_id: int, form: TicketTypeForm) -> TicketType:
    """A new price applies to orders placed from now on; capacity cannot go below the
    seats already sold or held (the row is locked against a concurrent checkout)."""
    with write_transaction() as session:
        found = session.get(TicketType, ticket_type_id)
        if found is None:
            raise NotFound("No ticket type of yours has this id.")
        event = owned_event(session, user, found.event_id)
        values = _type_values(form, event.currency)
        ticket_type = lock(session, TicketType, ticket_type_id)
        if values.capacity < ticket_type.reserved:
            raise InvalidInput(
                {
                    "capacity": f"{ticket_type.reserved} tickets are sold or held for payment: "
                    f"capacity cannot go below {ticket_type.reserved}."
                }
            )
        ticket_type.name, ticket_type.price_minor, ticket_type.capacity = (
            values.name,
            values.price_minor,
            values.capacity,
        )
        ticket_type.sales_start_at, ticket_type.sales_end_at = values.sales_start_at, values.sales_end_at
        return ticket_type


def ticket_types(event_id: int) -> list[TicketType]:
    with read_session() as session:
        return list(
            session.exec(
                select(TicketType).where(TicketType.event_id == event_id).order_by(col(TicketType.id))
            ).all()
        )


def event_id_of(text: str) -> int:
    """A route's ``event_id`` as an int, or NotFound."""
    event_id = whole_number(text, minimum=1)
    if event_id is None:
        raise NotFound("No event of yours has this id.")
    return event_id
