"""The email outbox: a message is rendered and queued inside the transaction that
decides to send it, and delivered after that transaction commits (see ``sender``).

Queue, then wake — nothing to call after the commit: :func:`queue_email` hooks the
caller's session so that its outermost commit wakes the running sender
(:func:`sender.wake_sender`, which callers may also call themselves, from any thread).
A rolled-back transaction queues nothing (the row goes with it) and wakes nobody.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import event, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from payflow_app.core.db import is_sqlite, read_session
from payflow_app.emails.sender import wake_sender
from payflow_app.emails.templates import RenderedEmail
from payflow_app.i18n import normalise
from payflow_app.models import EmailOutbox

_WAKE_ON_COMMIT = "payflow.emails.wake_sender"


@dataclass(frozen=True)
class OutboxView:
    """One queued or sent email, as the order's success page lists it."""

    template: str
    recipient: str
    subject: str
    status: str
    sent_at: datetime | None
    language: str = "en"  # the email's own, which its subject is in


def queue_email(
    session: Session, *, order_id: int, template: str, recipient: str, language: str, email: RenderedEmail
) -> bool:
    """Queue one message per (order, template) in the caller's open write transaction.

    Answers False when the pair is already queued or sent — by this transaction, an
    earlier one, or a concurrent one that committed first. The insert runs in a
    savepoint on PostgreSQL, so losing that race leaves the caller's transaction usable."""
    if _queued(session, order_id, template):
        return False
    row = EmailOutbox(
        order_id=order_id,
        template=template,
        language=normalise(language),
        recipient=recipient,
        subject=email.subject[:300],
        body_text=email.text,
        body_html=email.html,
        inline_images=json.dumps([asdict(image) for image in email.inline_images]),
    )
    if is_sqlite():
        # The caller's write transaction holds SQLite's write lock (BEGIN IMMEDIATE): no
        # other transaction can queue the pair between the check above and the commit,
        # so the savepoint's two round trips inside the lock would buy nothing.
        session.add(row)
    else:
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # PostgreSQL: a concurrent transaction inserted the pair and has committed
            # since our check. Any other integrity error (a missing order) is the caller's.
            if _queued(session, order_id, template):
                return False
            raise
    session.info[_WAKE_ON_COMMIT] = True
    if not event.contains(session, "after_commit", _wake_after_commit):
        event.listen(session, "after_commit", _wake_after_commit)
    return True


def emails_for_order(order_id: int) -> list[OutboxView]:
    with read_session() as session:
        rows = session.exec(
            select(EmailOutbox).where(EmailOutbox.order_id == order_id).order_by(col(EmailOutbox.id))
        ).all()
        return [OutboxView(r.template, r.recipient, r.subject, r.status, r.sent_at, r.language) for r in rows]


def mailbox_messages(*, recipient: str | None = None, limit: int = 200) -> list[EmailOutbox]:
    """Every message, newest first, optionally only those to one address (any case)."""
    query = select(EmailOutbox).order_by(col(EmailOutbox.id).desc()).limit(limit)
    if recipient:
        query = query.where(func.lower(EmailOutbox.recipient) == recipient.strip().lower())
    with read_session() as session:
        return list(session.exec(query).all())


def _queued(session: Session, order_id: int, template: str) -> bool:
    found = session.exec(
        select(EmailOutbox.id).where(EmailOutbox.order_id == order_id, EmailOutbox.template == template)
    ).first()
    return found is not None


def _wake_after_commit(session: Session) -> None:
    # Also called when a savepoint is released; only the outermost commit makes the
    # queued rows visible to the sender.
    if session.in_nested_transaction() or not session.info.pop(_WAKE_ON_COMMIT, False):
        return
    wake_sender()
