"""Delivering the outbox: by SMTP when ``PAYFLOW_SMTP_HOST`` is set, else into the
built-in mailbox (``/sandbox/mailbox``), where marking a row sent is the delivery.

:func:`deliver_due` claims due rows with a lease, so concurrent senders (threads,
workers, processes) never send one row twice. A failed attempt is retried with backoff
and given up after ``email_max_attempts``. A crash between the SMTP hand-off and
marking the row sent means one resend once the lease has run out; it carries the same
``Message-ID``, so receivers can drop the copy.

The lease (:func:`lease_seconds`) must outlast the work done under it, or a second
sender would send the message too — and it is also how long a message claimed by a
killed process waits to be sent again. So an SMTP sender claims one message at a time
and its conversation has a hard deadline (:func:`smtp.send_smtp`: ``SMTP_STEPS`` steps of
``smtp_timeout_seconds``, a minute by default); the lease is that plus a margin: 105 s.
The mailbox transport only marks rows, so it claims a batch under the margin alone.

Secrets: once a message has left by SMTP (or has been given up on), every
``<code class="secret">`` span of its stored HTML — and the same value in its text —
is replaced by ``********`` (see :func:`templates.scrub_secrets`): the temporary
password of a welcome email does not stay in the database. The mailbox transport keeps
it, because the mailbox page is where a sandbox user reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from sqlalchemy import ColumnElement, and_, update
from sqlmodel import col, or_, select

from payflow_app.core import notify
from payflow_app.core.db import is_sqlite, lock, read_session, write_transaction
from payflow_app.core.qr import qr_png
from payflow_app.core.states import OutboxStatus
from payflow_app.emails.smtp import deadline_seconds, send_smtp
from payflow_app.emails.templates import InlineImage, scrub_secrets
from payflow_app.models import EmailOutbox, pk, utcnow
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
BATCH = 10
MAX_BACKOFF_SECONDS = 600
# Building a message and marking it sent (or the mailbox's batch) fit in this, even
# when the mark waits out SQLite's 30 s busy timeout.
LEASE_MARGIN_SECONDS = 45.0
_running: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None


def batch_size() -> int:
    """Messages claimed at once: one by SMTP (so the lease covers one conversation),
    a batch into the mailbox."""
    return 1 if get_settings().smtp_host else BATCH


def lease_seconds(limit: int) -> float:
    """A claim on ``limit`` messages: their SMTP conversations at their deadline, plus
    a margin. After it runs out another sender may take them — also when the sender
    holding them was killed (105 s with the default 10 s SMTP timeout)."""
    sending = limit * deadline_seconds() if get_settings().smtp_host else 0.0
    return LEASE_MARGIN_SECONDS + sending


def claim_due(limit: int | None = None) -> list[EmailOutbox]:
    """Take a lease on up to ``limit`` (:func:`batch_size`) due messages, oldest first.
    PostgreSQL senders skip rows another sender has locked; SQLite's write lock
    serialises the claim."""
    limit = limit or batch_size()
    now = utcnow()
    lease = timedelta(seconds=lease_seconds(limit))
    with write_transaction() as session:
        query = select(EmailOutbox).where(_due(now)).order_by(col(EmailOutbox.id)).limit(limit)
        if not is_sqlite():
            query = query.with_for_update(skip_locked=True)
        rows = list(session.exec(query).all())
        for row in rows:
            row.locked_until = now + lease
            row.attempts += 1
        return rows


def wake_sender() -> None:
    """Wake the running sender at once; safe from any thread, a no-op when none runs."""
    if _running is None:
        return
    loop, wakeup = _running
    with contextlib.suppress(RuntimeError):  # the sender's loop has closed
        loop.call_soon_threadsafe(wakeup.set)


def inline_images(row: EmailOutbox) -> tuple[InlineImage, ...]:
    """The QR images a stored message's HTML references by ``cid:``."""
    return tuple(InlineImage(**image) for image in json.loads(row.inline_images or "[]"))


def message_id(row: EmailOutbox) -> str:
    """Stable per outbox row: a resend of the row is recognisably the same message."""
    domain = parseaddr(get_settings().mail_from)[1].rpartition("@")[2] or "payflow.invalid"
    return f"<outbox-{pk(row)}-{int(row.created_at.timestamp())}@{domain}>"


def build_message(row: EmailOutbox) -> EmailMessage:
    """multipart/alternative: the text, and the HTML in a multipart/related together
    with one inline PNG per QR code it references by ``cid:``."""
    message = EmailMessage()
    message["From"] = get_settings().mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(row)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
        html_part = message.get_body(("html",))
        assert isinstance(html_part, EmailMessage)
        for image in inline_images(row):
            html_part.add_related(
                qr_png(image.qr_token),
                maintype="image",
                subtype="png",
                cid=f"<{image.cid}>",
                disposition="inline",
                filename=f"{image.cid.partition('@')[0]}.png",
            )
    # Last: building the body moves the message's Content-* headers into its first part.
    message["Content-Language"] = row.language
    return message


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued, due, and not in another sender's hands."""
    return and_(
        col(EmailOutbox.status) == OutboxStatus.QUEUED,
        col(EmailOutbox.next_attempt_at) <= now,
        or_(col(EmailOutbox.locked_until).is_(None), col(EmailOutbox.locked_until) < now),
    )


def any_due() -> bool:
    """Whether a message is due (a read: no write lock for a pass with nothing to do)."""
    with read_session() as session:
        return session.exec(select(EmailOutbox.id).where(_due(utcnow())).limit(1)).first() is not None


def deliver_due() -> int:
    """Deliver every due message; answers how many were delivered. Blocking: the
    async sender runs it in a thread. Safe to run in several threads at once.

    Takes SQLite's write lock only when there is something to claim, and stops after
    a claim that was not full (it took every due message; one queued since wakes the
    sender again): during a burst of fulfilments the sender is woken after each one,
    and every needless turn at the lock delays the next fulfilment."""
    delivered = 0
    limit = batch_size()
    while any_due():
        if get_settings().smtp_host:
            rows = claim_due(limit)
            delivered += sum(_deliver(row) for row in rows)
            taken = len(rows)
        else:
            taken = _file_in_mailbox(limit)
            delivered += taken
        if taken < limit:
            break
    return delivered


def _file_in_mailbox(limit: int) -> int:
    """The offline mailbox: nothing leaves the database, so a batch of due messages is
    claimed and filed as sent in one transaction, two statements (no lease to take and
    release in a second turn at the write lock). Answers how many."""
    now = utcnow()
    with write_transaction() as session:
        query = select(EmailOutbox.id, EmailOutbox.order_id).where(_due(now)).order_by(col(EmailOutbox.id))
        if not is_sqlite():
            query = query.with_for_update(skip_locked=True)
        rows = session.exec(query.limit(limit)).all()
        if rows:
            session.execute(
                update(EmailOutbox)
                .where(col(EmailOutbox.id).in_([row_id for row_id, _ in rows]))
                .values(
                    status=OutboxStatus.SENT,
                    transport="mailbox",
                    sent_at=now,
                    attempts=EmailOutbox.attempts + 1,
                    locked_until=None,
                    last_error=None,
                )
            )
    # The order's page lists its emails: let it know they are out.
    for order_id in {order_id for _, order_id in rows}:
        notify.order_changed(order_id)
    return len(rows)


async def run_email_sender() -> None:
    """Runs for the app's lifetime: woken at once by a committed queue_email, else polls."""
    global _running
    wakeup = asyncio.Event()
    _running = (asyncio.get_running_loop(), wakeup)
    poll = get_settings().email_poll_seconds
    try:
        while True:
            wakeup.clear()  # before delivering, so a message queued meanwhile is not missed
            try:
                await asyncio.to_thread(deliver_due)
            except Exception:
                log.exception("email sender pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=poll)
    finally:
        _running = None


def _deliver(row: EmailOutbox) -> bool:
    try:
        send_smtp(build_message(row))
    except Exception as exc:  # one bad message or a down server must not stop the others
        error = f"{type(exc).__name__}: {exc}"
        log.warning("email %s to %s failed (attempt %s): %s", row.id, row.recipient, row.attempts, error)
        _record_failure(pk(row), error)
        return False
    _mark_sent([pk(row)], transport="smtp")
    return True


def _mark_sent(row_ids: list[int], *, transport: str) -> None:
    with write_transaction() as session:
        order_ids = set()
        for row_id in row_ids:
            row = lock(session, EmailOutbox, row_id)
            row.status, row.transport, row.sent_at = OutboxStatus.SENT, transport, utcnow()
            row.locked_until, row.last_error = None, None
            if transport == "smtp":
                row.body_text, row.body_html = scrub_secrets(row.body_text, row.body_html)
            order_ids.add(row.order_id)
    # The order's page lists its emails: let it know they are out.
    for order_id in order_ids:
        notify.order_changed(order_id)


def _record_failure(row_id: int, error: str) -> None:
    with write_transaction() as session:
        row = lock(session, EmailOutbox, row_id)
        row.locked_until, row.last_error = None, error[:2000]
        if row.attempts >= get_settings().email_max_attempts:
            row.status = OutboxStatus.FAILED
            # Never delivered, so nobody will read the secret: it need not be kept either.
            row.body_text, row.body_html = scrub_secrets(row.body_text, row.body_html)
        else:
            row.next_attempt_at = utcnow() + timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2**row.attempts))
