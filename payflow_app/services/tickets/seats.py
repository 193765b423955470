"""Seats held for ticket orders, the sale window of a ticket type, and the pending
tickets an M-PESA order holds from the start: one conditional UPDATE per hold, so two
buyers of the last seat cannot both get it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from payflow_app.core import numbers
from payflow_app.core.states import TicketStatus
from payflow_app.models import Order, Ticket, TicketType, pk, utcnow


def sale_state(
    ticket_type: TicketType, now: datetime | None = None, *, event_starts_at: datetime | None = None
) -> str:
    """``on_sale``, ``not_yet`` (before its sale window) or ``ended`` (after it). A
    window without an end closes when the event starts."""
    now = now or utcnow()
    end = ticket_type.sales_end_at or event_starts_at
    if ticket_type.sales_start_at is not None and now < ticket_type.sales_start_at:
        return "not_yet"
    if end is not None and now >= end:
        return "ended"
    return "on_sale"


def hold_seats(session: Session, *, ticket_type_id: int, quantity: int) -> bool:
    """Hold seats if that many are left. One conditional UPDATE: two buyers of the
    last seat cannot both get it."""
    result = session.execute(
        update(TicketType)
        .where(col(TicketType.id) == ticket_type_id)
        .where(col(TicketType.reserved) + quantity <= col(TicketType.capacity))
        .values(reserved=col(TicketType.reserved) + quantity)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release_seats(session: Session, order: Order) -> None:
    session.execute(
        update(TicketType)
        .where(col(TicketType.id) == order.ticket_type_id)
        .values(reserved=col(TicketType.reserved) - order.quantity)
    )


def create_pending_tickets(session: Session, order: Order) -> None:
    """An M-PESA order has its tickets from the start, without a QR code: they
    become valid when the payment succeeds, void when it does not."""
    assert order.ticket_type_id is not None
    for seat in range(order.quantity):
        session.add(
            Ticket(
                number=numbers.ticket_number(),
                order_id=pk(order),
                ticket_type_id=order.ticket_type_id,
                seat_index=seat,
                qr_token="",
                status=TicketStatus.PENDING,
            )
        )


def void_pending_tickets(session: Session, order: Order) -> None:
    session.execute(
        update(Ticket)
        .where(col(Ticket.order_id) == order.id, col(Ticket.status) == TicketStatus.PENDING)
        .values(status=TicketStatus.VOID)
    )
