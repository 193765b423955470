"""What a customer (or an API client) sees of an order: a cheap read, no provider calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from payflow_app.models import Event, Order, Payment, Ticket, TicketType
from payflow_app.services.db import read_session
from payflow_app.services.money import format_money
from payflow_app.services.states import OrderStatus, PaymentStatus
from payflow_app.services.tickets import qr_data_uri

# The processing steps of a ticket order, in order; the UI owns their wording.
STEPS = ("verify_payment", "process_transaction", "issue_tickets", "send_confirmation")


@dataclass(frozen=True)
class TicketView:
    number: str
    ticket_type: str
    status: str
    qr_data_uri: str


@dataclass(frozen=True)
class OrderSnapshot:
    order_id: int
    order_number: str
    kind: str
    event_title: str
    event_slug: str
    ticket_type: str
    quantity: int
    amount: str
    order_status: str
    payment_status: str
    payment_reference: str | None
    failure_message: str | None
    steps_done: dict[str, bool]
    tickets: list[TicketView] = field(default_factory=list)

    @property
    def is_processed(self) -> bool:
        return self.order_status == OrderStatus.FULFILLED

    @property
    def is_closed(self) -> bool:
        """Nothing more will happen without the customer (fulfilled, cancelled, ...)."""
        return self.order_status in (
            OrderStatus.FULFILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        ) or self.payment_status in (PaymentStatus.REQUIRES_REVIEW, PaymentStatus.FAILED)


def order_snapshot(order_id: int, *, with_qr: bool = True) -> OrderSnapshot | None:
    with read_session() as session:
        order = session.get(Order, order_id)
        if order is None:
            return None
        event = session.get(Event, order.event_id)
        ticket_type = session.get(TicketType, order.ticket_type_id)
        payment = session.exec(
            select(Payment).where(Payment.order_id == order_id).order_by(col(Payment.id).desc())
        ).first()
        rows = session.exec(
            select(Ticket).where(Ticket.order_id == order_id).order_by(col(Ticket.seat_index))
        ).all()
    type_name = ticket_type.name if ticket_type else ""
    return OrderSnapshot(
        order_id=order_id,
        order_number=order.number,
        kind=order.kind,
        event_title=event.title if event else "",
        event_slug=event.slug if event else "",
        ticket_type=type_name,
        quantity=order.quantity,
        amount=format_money(order.amount_minor, order.currency),
        order_status=order.status,
        payment_status=payment.status if payment else "none",
        payment_reference=payment.provider_reference if payment else None,
        failure_message=(payment.review_reason or payment.failure_message) if payment else None,
        steps_done={
            "verify_payment": payment is not None and payment.status == PaymentStatus.SUCCEEDED,
            "process_transaction": order.paid_at is not None,
            "issue_tickets": order.tickets_issued_at is not None,
            "send_confirmation": order.confirmation_sent_at is not None,
        },
        tickets=[
            TicketView(
                number=t.number,
                ticket_type=type_name,
                status=t.status,
                qr_data_uri=qr_data_uri(t.qr_token) if with_qr else "",
            )
            for t in rows
        ],
    )
