"""What a customer (or an API client) sees of an order: a cheap read, no provider calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.core.qr import qr_data_uri
from payflow_app.core.states import (
    STEPS,
    UNISSUED_TICKET_STATUSES,
    OrderStatus,
    PaymentStatus,
    TicketStatus,
)
from payflow_app.models import Event, Gallery, Order, Payment, Ticket, TicketType


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
    user_id: int
    event_title: str
    event_slug: str
    ticket_type: str
    quantity: int
    amount_minor: int
    currency: str
    order_status: str
    payment_status: str
    payment_reference: str | None
    failure_message: str | None
    failure_code: str | None  # the provider's decline code (i18n.decline_reason words it)
    receipt_number: str | None
    payment_provider: str | None
    steps: list[tuple[str, bool]]  # (step key, done), in order
    tickets: list[TicketView] = field(default_factory=list)
    # Flagged only because the provider has not answered yet: its answer still settles it.
    awaiting_provider: bool = False

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
        ) or (
            self.payment_status in (PaymentStatus.REQUIRES_REVIEW, PaymentStatus.FAILED)
            and not self.awaiting_provider
        )


def order_snapshot(order_id: int, *, with_qr: bool = True) -> OrderSnapshot | None:
    with read_session() as session:
        order = session.get(Order, order_id)
        if order is None:
            return None
        event = session.get(Event, order.event_id) if order.event_id else None
        ticket_type = session.get(TicketType, order.ticket_type_id) if order.ticket_type_id else None
        payment = session.exec(
            select(Payment).where(Payment.order_id == order_id).order_by(col(Payment.id).desc())
        ).first()
        rows = session.exec(
            select(Ticket)
            .where(Ticket.order_id == order_id, col(Ticket.status).not_in(UNISSUED_TICKET_STATUSES))
            .order_by(col(Ticket.seat_index))
        ).all()
    type_name = ticket_type.name if ticket_type else ""
    done = (
        payment is not None and payment.status == PaymentStatus.SUCCEEDED,
        order.paid_at is not None,
        order.delivered_at is not None,
        order.completed_at is not None,
    )
    return OrderSnapshot(
        order_id=order_id,
        order_number=order.number,
        kind=order.kind,
        user_id=order.user_id,
        event_title=event.title if event else "",
        event_slug=event.slug if event else "",
        ticket_type=type_name,
        quantity=order.quantity,
        amount_minor=order.amount_minor,
        currency=order.currency,
        order_status=order.status,
        payment_status=payment.status if payment else "none",
        payment_reference=payment.provider_reference if payment else None,
        failure_message=(payment.review_reason or payment.failure_message) if payment else None,
        failure_code=payment.failure_code if payment and not payment.review_reason else None,
        receipt_number=payment.receipt_number if payment else None,
        payment_provider=payment.provider if payment else None,
        awaiting_provider=bool(payment and payment.review_code == "no_final_answer"),
        steps=list(zip(STEPS[order.kind], done, strict=True)),
        tickets=[
            TicketView(
                number=t.number,
                ticket_type=type_name,
                status=t.status,
                # A revoked ticket's code admits nobody: it is not shown again.
                qr_data_uri=qr_data_uri(t.qr_token) if with_qr and t.status != TicketStatus.REVOKED else "",
            )
            for t in rows
        ],
    )


def order_holds_nothing(order_id: int) -> bool:
    """True once an unpaid order holds no lock: no gallery locked by one of its
    payments (seats are released with the same transaction that cancels it)."""
    with read_session() as session:
        order = session.get(Order, order_id)
        if order is None or order.gallery_id is None:
            return order is not None
        gallery = session.get(Gallery, order.gallery_id)
        if gallery is None or gallery.locked_by_payment_id is None:
            return True
        locking = session.get(Payment, gallery.locked_by_payment_id)
        return locking is None or locking.order_id != order_id
