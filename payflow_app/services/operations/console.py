"""What an operator sees and does across payments: those that need attention (by
filter), the orders a customer names (:func:`find_orders`), and the review flag a
person sets and clears. One order's whole story is
``services.operations.timeline``; the repairs (ask the provider again, replay a webhook) are the
reconciler's and the inbox's own functions — none edits a status by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, func, or_, select

from payflow_app.core import notify
from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.money import format_money
from payflow_app.core.states import InboxStatus, OrderStatus, PaymentStatus
from payflow_app.models import (
    Order,
    Payment,
    Ticket,
    User,
    WebhookEvent,
    pk,
    utcnow,
)
from payflow_app.services.payments import attempts
from payflow_app.settings import get_settings

ROWS = 200  # a console page; the filters narrow it down


class StuckFilter(StrEnum):
    NEEDS_REVIEW = "needs_review"
    PENDING_PAST_DUE = "pending_past_due"
    PAID_NOT_FULFILLED = "paid_not_fulfilled"
    FAILED_PROCESSING = "failed_processing"
    DEAD_LETTERED = "dead_lettered"
    AMOUNT_MISMATCH = "amount_mismatch"
    LATE_MONEY = "late_money"


@dataclass(frozen=True)
class StuckRow:
    order_id: int | None
    order_number: str
    payment_id: int | None
    event_id: int | None  # set for the webhook filters
    provider: str
    reference: str
    amount: str
    status: str
    since: datetime
    reason: str


def _payment_row(payment: Payment, order: Order, since: datetime | None, reason: str) -> StuckRow:
    return StuckRow(
        order_id=pk(order),
        order_number=order.number,
        payment_id=pk(payment),
        event_id=None,
        provider=payment.provider,
        reference=payment.provider_reference or "—",
        amount=format_money(payment.amount_minor, payment.currency),
        status=payment.status,
        since=since or payment.created_at,
        reason=reason,
    )


def _event_row(event: WebhookEvent) -> StuckRow:
    payment = (
        attempts.find_payment_for_event(provider=event.provider, reference=event.provider_reference)
        if event.provider_reference
        else None
    )
    error = (event.last_error or "").strip().splitlines()
    return StuckRow(
        order_id=payment.order_id if payment else None,
        order_number=_order_number(payment.order_id) if payment else "—",
        payment_id=pk(payment) if payment else None,
        event_id=pk(event),
        provider=event.provider,
        reference=event.provider_reference or "—",
        amount=format_money(payment.amount_minor, payment.currency) if payment else "—",
        status=event.status,
        since=event.received_at,
        reason=f"{event.event_type or 'event'} · {event.attempts} attempt(s) · {error[-1] if error else ''}",
    )


def _order_number(order_id: int) -> str:
    with read_session() as session:
        order = session.get(Order, order_id)
        return order.number if order else "—"


EVENT_FILTERS = (StuckFilter.FAILED_PROCESSING, StuckFilter.DEAD_LETTERED)


def _event_query(which: StuckFilter) -> Any:
    query = select(WebhookEvent).order_by(col(WebhookEvent.received_at))
    if which is StuckFilter.DEAD_LETTERED:
        return query.where(WebhookEvent.status == InboxStatus.DEAD)
    return query.where(WebhookEvent.status == InboxStatus.PENDING, col(WebhookEvent.last_error).is_not(None))


def _payment_query(which: StuckFilter) -> Any:
    now = utcnow()
    query = select(Payment, Order).join(Order, col(Order.id) == col(Payment.order_id))
    if which is StuckFilter.NEEDS_REVIEW:
        return query.where(col(Payment.flagged_at).is_not(None)).order_by(col(Payment.flagged_at))
    if which is StuckFilter.PENDING_PAST_DUE:
        due = now - timedelta(seconds=get_settings().payment_delayed_after_seconds)
        return query.where(
            col(Payment.status).in_((PaymentStatus.CREATED, PaymentStatus.PENDING)),
            col(Payment.created_at) < due,
        ).order_by(col(Payment.created_at))
    if which is StuckFilter.PAID_NOT_FULFILLED:
        return query.where(
            Payment.status == PaymentStatus.SUCCEEDED,
            Order.status != OrderStatus.FULFILLED,
            col(Payment.succeeded_at) < now - timedelta(minutes=1),
        ).order_by(col(Payment.succeeded_at))
    if which is StuckFilter.AMOUNT_MISMATCH:
        return query.where(Payment.review_code == "amount_mismatch").order_by(col(Payment.updated_at))
    return query.where(col(Payment.late_at).is_not(None)).order_by(col(Payment.late_at))


def _why(which: StuckFilter, payment: Payment, order: Order) -> tuple[datetime | None, str]:
    """Since when, and why, a payment is listed under ``which``."""
    if which is StuckFilter.PENDING_PAST_DUE:
        return payment.created_at, f"{payment.status}; {payment.sync_attempts} status queries so far"
    if which is StuckFilter.PAID_NOT_FULFILLED:
        return payment.succeeded_at, f"paid, but the order is {order.status}"
    if which is StuckFilter.LATE_MONEY:
        return payment.late_at, payment.review_reason or "late money, accepted"
    return payment.flagged_at, payment.review_reason or ""


def stuck_payments(which: StuckFilter) -> list[StuckRow]:
    """The rows behind one filter of the console, oldest first."""
    with read_session() as session:
        if which in EVENT_FILTERS:
            events = session.exec(_event_query(which).limit(ROWS)).all()
        else:
            found = session.exec(_payment_query(which).limit(ROWS)).all()
    if which in EVENT_FILTERS:
        return [_event_row(event) for event in events]
    return [_payment_row(payment, order, *_why(which, payment, order)) for payment, order in found]


def stuck_counts() -> dict[str, int]:
    """How many rows each filter holds (one COUNT each)."""
    with read_session() as session:
        return {
            which.value: session.exec(
                select(func.count()).select_from(
                    (_event_query(which) if which in EVENT_FILTERS else _payment_query(which)).subquery()
                )
            ).one()
            for which in StuckFilter
        }


FOUND_AT_MOST = 50  # an email of a frequent buyer: the latest orders


class MatchedBy(StrEnum):
    ORDER_NUMBER = "order_number"
    TICKET_NUMBER = "ticket_number"
    EMAIL = "email"
    PROVIDER_REFERENCE = "provider_reference"


@dataclass(frozen=True)
class FoundOrder:
    order_id: int
    order_number: str
    email: str
    amount: str
    status: str
    created_at: datetime
    matched_by: MatchedBy


def _orders_matching(session: Session, text: str) -> dict[int, MatchedBy]:
    """Order ids each kind of identifier names exactly — never the row id, which anyone
    can count through. Order and ticket numbers are printed in capitals, emails stored
    in lower case; provider references are compared as given (Stripe's are case
    sensitive)."""
    found: dict[int, MatchedBy] = {}

    def add(kind: MatchedBy, ids: Any) -> None:
        for order_id in ids:
            found.setdefault(int(order_id), kind)

    upper = text.upper()
    add(
        MatchedBy.ORDER_NUMBER,
        session.exec(select(Order.id).where(or_(Order.number == upper, Order.public_id == text))).all(),
    )
    add(MatchedBy.TICKET_NUMBER, session.exec(select(Ticket.order_id).where(Ticket.number == upper)).all())
    add(
        MatchedBy.EMAIL,
        session.exec(
            select(Order.id)
            .join(User, col(User.id) == Order.user_id)
            .where(User.email == text.lower())
            .order_by(col(Order.created_at).desc())
            .limit(FOUND_AT_MOST)
        ).all(),
    )
    add(
        MatchedBy.PROVIDER_REFERENCE,
        session.exec(
            select(Payment.order_id).where(
                or_(
                    Payment.provider_reference == text,
                    Payment.receipt_number == text,
                    Payment.public_id == text,
                )
            )
        ).all(),
    )
    return found


def find_orders(text: str) -> list[FoundOrder]:
    """The orders an identifier a customer or a provider gives names, newest first: an
    order or ticket number, the customer's email, or a provider reference (Stripe
    session or payment intent id, UnivaPay charge id, PayHero reference, M-PESA
    receipt). Exact matches only, one lookup per kind; nothing for an empty or
    over-long text."""
    text = text.strip()
    if not text or len(text) > 320:
        return []
    with read_session() as session:
        matched = _orders_matching(session, text)
        if not matched:
            return []
        rows = session.exec(
            select(Order, User)
            .join(User, col(User.id) == Order.user_id)
            .where(col(Order.id).in_(matched))
            .order_by(col(Order.created_at).desc(), col(Order.id).desc())
            .limit(FOUND_AT_MOST)
        ).all()
    return [
        FoundOrder(
            order_id=pk(order),
            order_number=order.number,
            email=user.email,
            amount=format_money(order.amount_minor, order.currency),
            status=order.status,
            created_at=order.created_at,
            matched_by=matched[pk(order)],
        )
        for order, user in rows
    ]


def statuses(payment_id: int) -> tuple[str, str]:
    """A payment's status and its order's."""
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("We could not find this payment.")
        order = session.get(Order, payment.order_id)
        assert order is not None
        return payment.status, order.status


def mark_for_review(*, payment_id: int, reason: str) -> None:
    """An operator asks for a person to look at a payment: it is listed under review
    with the reason. Its status is left alone — a customer who pays is still served."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput({"reason": "Say why this payment needs a person."})
    with write_transaction() as session:
        if session.get(Payment, payment_id) is None:
            raise NotFound("We could not find this payment.")
        payment = lock(session, Payment, payment_id)
        payment.review_code, payment.review_reason = "manual", f"Operator: {reason}"[:500]
        payment.flagged_at = payment.updated_at = utcnow()
        order_id = payment.order_id
        user_id = lock(session, Order, order_id).user_id
    notify.order_changed(order_id, user_id=user_id)


def resolve_review(*, payment_id: int) -> None:
    """An operator has dealt with a flagged payment: it leaves the review list."""
    with write_transaction() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("We could not find this payment.")
        if payment.flagged_at is None:
            raise DomainError("This payment is not waiting for review.", code="not_flagged")
        payment.flagged_at, payment.updated_at = None, utcnow()
