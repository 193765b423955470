"""Issuing an order's tickets (a signed QR token per seat) and queueing them to the
buyer: on payment, and when an organizer resends or reissues them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from payflow_app.core import numbers
from payflow_app.core.states import TicketStatus
from payflow_app.emails.outbox import queue_email
from payflow_app.emails.templates import TicketLine, tickets_email
from payflow_app.models import Event, Order, Ticket, TicketType, User, pk
from payflow_app.services.tickets import tokens
from payflow_app.settings import get_settings


def issue_tickets(session: Session, order: Order) -> None:
    """Sign a QR token for every seat: the order's pending tickets (an M-PESA order
    has them from the start) become valid, missing ones are created."""
    assert order.event_id is not None and order.ticket_type_id is not None
    event = session.get(Event, order.event_id)
    assert event is not None
    pending = session.exec(select(Ticket).where(Ticket.order_id == order.id)).all()
    for ticket in pending:
        ticket.qr_token = tokens.sign_ticket_token(
            ticket_number=ticket.number, event_id=order.event_id, event_starts_at=event.starts_at
        )
        ticket.status = TicketStatus.VALID
    for seat in sorted(set(range(order.quantity)) - {held.seat_index for held in pending}):
        number = numbers.ticket_number()
        session.add(
            Ticket(
                number=number,
                order_id=pk(order),
                ticket_type_id=order.ticket_type_id,
                seat_index=seat,
                qr_token=tokens.sign_ticket_token(
                    ticket_number=number, event_id=order.event_id, event_starts_at=event.starts_at
                ),
            )
        )


def queue_order_tickets_email(session: Session, order: Order, user: User) -> None:
    rows = session.exec(
        select(Ticket).where(Ticket.order_id == order.id).order_by(col(Ticket.seat_index))
    ).all()
    queue_tickets_email(session, order=order, user=user, rows=rows, template="tickets")


def queue_tickets_email(
    session: Session,
    *,
    order: Order,
    user: User,
    rows: Sequence[Ticket],
    template: str,
    reissued: bool = False,
) -> bool:
    """Queue the QR codes of ``rows`` (tickets of ``order``) to the buyer, once per
    (order, ``template``): the order's first email, or an organizer's resend/reissue."""
    event = session.get(Event, order.event_id)
    ticket_type = session.get(TicketType, order.ticket_type_id)
    assert event is not None and ticket_type is not None
    return queue_email(
        session,
        order_id=pk(order),
        template=template,
        recipient=user.email,
        language=user.language,
        email=tickets_email(
            user.language,
            full_name=user.full_name,
            order_number=order.number,
            event_title=event.title,
            starts_at=event.starts_at,
            venue=event.venue,
            tickets=[
                TicketLine(number=t.number, ticket_type=ticket_type.name, qr_token=t.qr_token) for t in rows
            ],
            tickets_url=f"{get_settings().public_url}/wallet",
            reissued=reissued,
        ),
    )
