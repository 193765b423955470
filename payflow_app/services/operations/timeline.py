"""One order's whole story for an operator, oldest first: every status it and its
payments took, every webhook about them (raw body viewable), every processing and
status-query attempt with its error, every email and refund."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, or_, select

from payflow_app.core.db import read_session
from payflow_app.core.errors import NotFound
from payflow_app.core.money import format_money
from payflow_app.core.redaction import scrub_headers_json
from payflow_app.core.states import InboxStatus, OutboxStatus, RefundStatus
from payflow_app.models import (
    EmailOutbox,
    Order,
    Payment,
    ProcessingAttempt,
    Refund,
    StatusChange,
    WebhookEvent,
    pk,
)


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
        events = _webhook_events(session, payments)
        entries = [
            *_status_entries(session, order_id),
            *(_webhook_entry(event) for event in events),
            *_attempt_entries(session, payments, events),
            *_email_entries(session, order_id),
            *_refund_entries(session, order_id),
        ]
    entries.sort(key=lambda e: (e.at, e.kind != "webhook"))
    return OrderStory(
        order_id=order_id,
        number=order.number,
        kind=order.kind,
        status=order.status,
        amount=format_money(order.amount_minor, order.currency),
        provisional=order.is_provisional,
        payments=[_payment_line(p) for p in payments],
        timeline=entries,
    )


def _webhook_events(session: Session, payments: Sequence[Payment]) -> Sequence[WebhookEvent]:
    """The webhooks about the order's payments: found by the provider's reference or
    our idempotency key."""
    references = [r for p in payments for r in (p.provider_reference, p.idempotency_key) if r]
    if not references:
        return []
    return session.exec(
        select(WebhookEvent).where(col(WebhookEvent.provider_reference).in_(references))
    ).all()


def _status_entries(session: Session, order_id: int) -> list[TimelineEntry]:
    entries = []
    for change in session.exec(select(StatusChange).where(StatusChange.order_id == order_id)).all():
        subject = "Order" if change.subject == "order" else f"Payment #{change.payment_id}"
        moved = f"{change.from_status} → {change.to_status}" if change.from_status else change.to_status
        entries.append(
            TimelineEntry(change.at, "status", f"{subject}: {moved}", payment_id=change.payment_id)
        )
    return entries


def _webhook_entry(event: WebhookEvent) -> TimelineEntry:
    return TimelineEntry(
        event.received_at,
        "webhook",
        f"Webhook {event.provider} {event.event_type or ''} ({event.status})",
        detail=f"event {event.event_id}; {event.attempts} attempt(s)",
        event_id=pk(event),
        failed=event.status in (InboxStatus.DEAD, InboxStatus.REJECTED),
    )


def _attempt_entries(
    session: Session, payments: Sequence[Payment], events: Sequence[WebhookEvent]
) -> list[TimelineEntry]:
    """Every processing of those webhooks and every status query about those payments."""
    payment_ids = [pk(p) for p in payments]
    event_ids = [pk(e) for e in events]
    attempts = session.exec(
        select(ProcessingAttempt).where(
            or_(
                col(ProcessingAttempt.payment_id).in_(payment_ids or [-1]),
                col(ProcessingAttempt.webhook_event_id).in_(event_ids or [-1]),
            )
        )
    ).all()
    entries = []
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
    return entries


def _email_entries(session: Session, order_id: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            email.created_at,
            "email",
            f"Email '{email.template}' to {email.recipient}: {email.status}",
            detail=email.subject,
            failed=email.status == OutboxStatus.FAILED,
        )
        for email in session.exec(select(EmailOutbox).where(EmailOutbox.order_id == order_id)).all()
    ]


def _refund_entries(session: Session, order_id: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            refund.created_at,
            "refund",
            f"Refund of {format_money(refund.amount_minor, refund.currency)}: {refund.status}",
            detail=f"{refund.reason}. {refund.failure_message or ''}".strip(),
            payment_id=refund.payment_id,
            failed=refund.status == RefundStatus.FAILED,
        )
        for refund in session.exec(select(Refund).where(Refund.order_id == order_id)).all()
    ]


def _payment_line(payment: Payment) -> PaymentLine:
    return PaymentLine(
        id=pk(payment),
        provider=payment.provider,
        reference=payment.provider_reference or "—",
        status=payment.status,
        amount=format_money(payment.amount_minor, payment.currency),
        review_reason=payment.review_reason or payment.failure_message or "",
        flagged=payment.flagged_at is not None,
        can_sync=payment.provider != "wallet" and payment.provider_reference is not None,
    )


def webhook_body(event_id: int) -> tuple[WebhookEvent, str]:
    """A stored webhook with its raw body pretty-printed when it is JSON. Its headers
    are shown with credentials redacted, even on a row stored before redaction existed."""
    with read_session() as session:
        event = session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFound("We could not find this webhook event.")
    # The row is detached once the session closes: this changes what is shown, not what is stored.
    event.headers = scrub_headers_json(event.headers)
    try:
        body = json.dumps(json.loads(event.raw_body), indent=2, sort_keys=True)
    except ValueError:
        body = event.raw_body
    return event, body
