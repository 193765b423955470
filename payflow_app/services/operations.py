"""What an operator sees and does: payments that need attention (by filter), one
order's whole story (its timeline) and the repairs — ask the provider again, replay
a webhook, hold a payment for a person. Each repair goes through the same services
a customer's payment does; none of them edits a status by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, or_, select

from payflow_app.models import (
    EmailOutbox,
    Order,
    Payment,
    ProcessingAttempt,
    Refund,
    StatusChange,
    WebhookEvent,
    pk,
    utcnow,
)
from payflow_app.services import notify
from payflow_app.services.db import lock, read_session, write_transaction
from payflow_app.services.errors import DomainError, InvalidInput, NotFound
from payflow_app.services.money import format_money
from payflow_app.services.states import OrderStatus, PaymentStatus
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


def _event_row(session: Session, event: WebhookEvent) -> StuckRow:
    order: Order | None = None
    payment: Payment | None = None
    if event.provider_reference:
        payment = session.exec(
            select(Payment).where(
                Payment.provider == event.provider,
                or_(
                    Payment.provider_reference == event.provider_reference,
                    Payment.idempotency_key == event.provider_reference,
                ),
            )
        ).first()
        order = session.get(Order, payment.order_id) if payment else None
    error = (event.last_error or "").strip().splitlines()
    return StuckRow(
        order_id=pk(order) if order else None,
        order_number=order.number if order else "—",
        payment_id=pk(payment) if payment else None,
        event_id=pk(event),
        provider=event.provider,
        reference=event.provider_reference or "—",
        amount=format_money(payment.amount_minor, payment.currency) if payment else "—",
        status=event.status,
        since=event.received_at,
        reason=f"{event.event_type or 'event'} · {event.attempts} attempt(s) · {error[-1] if error else ''}",
    )


def stuck_payments(which: StuckFilter) -> list[StuckRow]:
    """The rows behind one filter of the console, oldest first."""
    with read_session() as session:
        if which in (StuckFilter.FAILED_PROCESSING, StuckFilter.DEAD_LETTERED):
            return _stuck_events(session, which)
        return _stuck_payments(session, which)


def _stuck_events(session: Session, which: StuckFilter) -> list[StuckRow]:
    query = select(WebhookEvent).order_by(col(WebhookEvent.received_at)).limit(ROWS)
    if which is StuckFilter.DEAD_LETTERED:
        query = query.where(WebhookEvent.status == "dead")
    else:
        query = query.where(WebhookEvent.status == "pending", col(WebhookEvent.last_error).is_not(None))
    return [_event_row(session, event) for event in session.exec(query).all()]


def _stuck_payments(session: Session, which: StuckFilter) -> list[StuckRow]:
    now = utcnow()
    query = select(Payment, Order).join(Order, col(Order.id) == col(Payment.order_id))
    if which is StuckFilter.NEEDS_REVIEW:
        query = query.where(col(Payment.flagged_at).is_not(None)).order_by(col(Payment.flagged_at))
    elif which is StuckFilter.PENDING_PAST_DUE:
        due = now - timedelta(seconds=get_settings().payment_delayed_after_seconds)
        query = query.where(
            col(Payment.status).in_((PaymentStatus.CREATED, PaymentStatus.PENDING)),
            col(Payment.created_at) < due,
        ).order_by(col(Payment.created_at))
    elif which is StuckFilter.PAID_NOT_FULFILLED:
        query = query.where(
            Payment.status == PaymentStatus.SUCCEEDED,
            Order.status != OrderStatus.FULFILLED,
            col(Payment.succeeded_at) < now - timedelta(minutes=1),
        ).order_by(col(Payment.succeeded_at))
    elif which is StuckFilter.AMOUNT_MISMATCH:
        query = query.where(Payment.review_code == "amount_mismatch").order_by(col(Payment.updated_at))
    else:
        query = query.where(col(Payment.late_at).is_not(None)).order_by(col(Payment.late_at))
    rows = []
    for payment, order in session.exec(query.limit(ROWS)).all():
        since: datetime | None
        if which is StuckFilter.PENDING_PAST_DUE:
            since, reason = (
                payment.created_at,
                f"{payment.status}; {payment.sync_attempts} status queries so far",
            )
        elif which is StuckFilter.PAID_NOT_FULFILLED:
            since, reason = payment.succeeded_at, f"paid, but the order is {order.status}"
        elif which is StuckFilter.LATE_MONEY:
            since, reason = payment.late_at, payment.review_reason or "late money, accepted"
        else:
            since, reason = payment.flagged_at, payment.review_reason or ""
        rows.append(_payment_row(payment, order, since, reason))
    return rows


def stuck_counts() -> dict[str, int]:
    return {which.value: len(stuck_payments(which)) for which in StuckFilter}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status | webhook | attempt | email | refund
    title: str
    detail: str = ""
    event_id: int | None = None  # a webhook: its raw body can be shown, it can be replayed
    payment_id: int | None = None
    failed: bool = False


@dataclass(frozen=True)
class PaymentLine:
    id: int
    provider: str
    reference: str
    status: str
    amount: str
    review_reason: str
    flagged: bool
    can_sync: bool


@dataclass(frozen=True)
class OrderStory:
    order_id: int
    number: str
    kind: str
    status: str
    amount: str
    provisional: bool
    payments: list[PaymentLine]
    timeline: list[TimelineEntry]


def order_timeline(order_id: int) -> OrderStory:
    """Everything that happened to one order, oldest first: every status it and its
    payments took, every webhook about them, every processing and status-query
    attempt with its error, every email and refund."""
    with read_session() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound("We could not find this order.")
        payments = session.exec(
            select(Payment).where(Payment.order_id == order_id).order_by(col(Payment.id))
        ).all()
        payment_ids = [pk(p) for p in payments]
        references = [r for p in payments for r in (p.provider_reference, p.idempotency_key) if r]
        entries: list[TimelineEntry] = []
        for change in session.exec(select(StatusChange).where(StatusChange.order_id == order_id)).all():
            subject = "Order" if change.subject == "order" else f"Payment #{change.payment_id}"
            moved = f"{change.from_status} → {change.to_status}" if change.from_status else change.to_status
            entries.append(
                TimelineEntry(change.at, "status", f"{subject}: {moved}", payment_id=change.payment_id)
            )
        events = (
            session.exec(
                select(WebhookEvent).where(col(WebhookEvent.provider_reference).in_(references))
            ).all()
            if references
            else []
        )
        for event in events:
            entries.append(
                TimelineEntry(
                    event.received_at,
                    "webhook",
                    f"Webhook {event.provider} {event.event_type or ''} ({event.status})",
                    detail=f"event {event.event_id}; {event.attempts} attempt(s)",
                    event_id=pk(event),
                    failed=event.status in ("dead", "rejected"),
                )
            )
        event_ids = [pk(e) for e in events]
        attempts = session.exec(
            select(ProcessingAttempt).where(
                or_(
                    col(ProcessingAttempt.payment_id).in_(payment_ids or [-1]),
                    col(ProcessingAttempt.webhook_event_id).in_(event_ids or [-1]),
                )
            )
        ).all()
        for attempt in attempts:
            label = "Processing webhook" if attempt.kind == "webhook" else "Status query"
            entries.append(
                TimelineEntry(
                    attempt.started_at,
                    "attempt",
                    f"{label} ({attempt.trigger}): {attempt.outcome}, {attempt.duration_ms} ms",
                    detail=(attempt.detail or "") + (f"\n{attempt.error}" if attempt.error else ""),
                    event_id=attempt.webhook_event_id,
                    payment_id=attempt.payment_id,
                    failed=attempt.outcome == "error",
                )
            )
        for email in session.exec(select(EmailOutbox).where(EmailOutbox.order_id == order_id)).all():
            entries.append(
                TimelineEntry(
                    email.created_at,
                    "email",
                    f"Email '{email.template}' to {email.recipient}: {email.status}",
                    detail=email.subject,
                    failed=email.status == "failed",
                )
            )
        for refund in session.exec(select(Refund).where(Refund.order_id == order_id)).all():
            entries.append(
                TimelineEntry(
                    refund.created_at,
                    "refund",
                    f"Refund of {format_money(refund.amount_minor, refund.currency)}: {refund.status}",
                    detail=f"{refund.reason}. {refund.failure_message or ''}".strip(),
                    payment_id=refund.payment_id,
                    failed=refund.status == "failed",
                )
            )
    entries.sort(key=lambda e: (e.at, e.kind != "webhook"))
    return OrderStory(
        order_id=order_id,
        number=order.number,
        kind=order.kind,
        status=order.status,
        amount=format_money(order.amount_minor, order.currency),
        provisional=order.is_provisional,
        payments=[
            PaymentLine(
                id=pk(p),
                provider=p.provider,
                reference=p.provider_reference or "—",
                status=p.status,
                amount=format_money(p.amount_minor, p.currency),
                review_reason=p.review_reason or p.failure_message or "",
                flagged=p.flagged_at is not None,
                can_sync=p.provider != "wallet" and p.provider_reference is not None,
            )
            for p in payments
        ],
        timeline=entries,
    )


def statuses(payment_id: int) -> tuple[str, str]:
    """A payment's status and its order's."""
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("We could not find this payment.")
        order = session.get(Order, payment.order_id)
        assert order is not None
        return payment.status, order.status


def webhook_body(event_id: int) -> tuple[WebhookEvent, str]:
    """A stored webhook with its raw body pretty-printed when it is JSON."""
    with read_session() as session:
        event = session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFound("We could not find this webhook event.")
    try:
        body = json.dumps(json.loads(event.raw_body), indent=2, sort_keys=True)
    except ValueError:
        body = event.raw_body
    return event, body


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
