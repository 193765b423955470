"""The one idempotent fulfilment, called by the webhook worker, the landing page and
(later) the reconciler — whichever comes first does the work, the others find it done.

Fulfilment is four steps, each its own short transaction that locks the row it
changes and first checks whether the step is already done; unique constraints
(one ticket per order seat, one email per order and template) are the backstop.
A crash between steps leaves a resumable state: the next call finishes the rest.
Every committed step notifies watchers, so the customer sees each one happen.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from payflow_app.models import EmailOutbox, Event, Order, Payment, Ticket, TicketType, User, utcnow
from payflow_app.providers.base import PaymentTruth, ProviderStatus
from payflow_app.services import notify, numbers, tickets
from payflow_app.services.db import lock, write_transaction
from payflow_app.services.money import Money, format_money
from payflow_app.services.states import (
    OrderStatus,
    PaymentStatus,
    check_order_transition,
    check_payment_transition,
)

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    FULFILLED = "fulfilled"
    NOT_PAID = "not_paid"
    FLAGGED = "flagged"  # needs an operator, e.g. the amount paid differs from the order


def fulfil_payment(*, payment_id: int, truth: PaymentTruth) -> Outcome:
    outcome, order_id = _confirm_payment(payment_id, truth)
    if outcome is not Outcome.FULFILLED:
        return outcome
    for step in (_mark_order_paid, _issue_tickets, _send_confirmation):
        if step(order_id):
            notify.order_changed(order_id)
    return Outcome.FULFILLED


def _confirm_payment(payment_id: int, truth: PaymentTruth) -> tuple[Outcome, int]:
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        order_id = payment.order_id
        if payment.status == PaymentStatus.SUCCEEDED:
            return Outcome.FULFILLED, order_id
        if payment.status == PaymentStatus.REQUIRES_REVIEW:
            return Outcome.FLAGGED, order_id
        if truth.status is not ProviderStatus.SUCCEEDED:
            return Outcome.NOT_PAID, order_id
        expected = Money(payment.amount_minor, payment.currency)
        if truth.amount != expected:
            paid = format_money(truth.amount.amount, truth.amount.currency) if truth.amount else "unknown"
            payment.status = check_payment_transition(payment.status, PaymentStatus.REQUIRES_REVIEW)
            payment.review_reason = (
                f"Amount mismatch: the provider reports {paid}, "
                f"the order expects {format_money(expected.amount, expected.currency)}."
            )
            payment.updated_at = utcnow()
            log.warning("payment %s flagged: %s", payment_id, payment.review_reason)
            outcome = Outcome.FLAGGED
        else:
            payment.status = check_payment_transition(payment.status, PaymentStatus.SUCCEEDED)
            payment.succeeded_at = payment.updated_at = utcnow()
            outcome = Outcome.FULFILLED
    notify.order_changed(order_id)
    return outcome, order_id


def _mark_order_paid(order_id: int) -> bool:
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.status in (OrderStatus.PAID, OrderStatus.FULFILLED):
            return False
        order.status = check_order_transition(order.status, OrderStatus.PAID)
        order.paid_at = order.updated_at = utcnow()
        return True


def _issue_tickets(order_id: int) -> bool:
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.tickets_issued_at is not None:
            return False
        for seat in range(order.quantity):
            number = numbers.ticket_number()
            session.add(
                Ticket(
                    number=number,
                    order_id=order_id,
                    ticket_type_id=order.ticket_type_id,
                    seat_index=seat,
                    qr_token=tickets.sign_ticket_token(ticket_number=number, event_id=order.event_id),
                )
            )
        order.tickets_issued_at = order.updated_at = utcnow()
        return True


def _send_confirmation(order_id: int) -> bool:
    with write_transaction() as session:
        order = lock(session, Order, order_id)
        if order.confirmation_sent_at is not None:
            return False
        user = session.get(User, order.user_id)
        event = session.get(Event, order.event_id)
        ticket_type = session.get(TicketType, order.ticket_type_id)
        assert user and event and ticket_type
        session.add(
            EmailOutbox(
                order_id=order_id,
                template="order_confirmation",
                recipient=user.email,
                subject=f"Your tickets for {event.title} — order {order.number}",
                body_text=(
                    f"Hello {user.full_name},\n\nYour order {order.number} is confirmed: "
                    f"{order.quantity} × {ticket_type.name} for {event.title} "
                    f"({format_money(order.amount_minor, order.currency)}).\n"
                    "Your tickets and their QR codes are on the order page.\n"
                ),
            )
        )
        order.confirmation_sent_at = order.updated_at = utcnow()
        order.status = check_order_transition(order.status, OrderStatus.FULFILLED)
        return True
