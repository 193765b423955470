"""The webhook inbox: store first, acknowledge, process after.

``record_webhook`` stores every request (rejected ones too, for operators) and is the
only thing the HTTP endpoint waits for. ``run_inbox_worker`` claims stored events
with a lease, asks the provider for the truth and settles the payment through the
one idempotent fulfilment. A failed attempt is retried later with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select

from payflow_app.models import WebhookEvent, pk, utcnow
from payflow_app.providers.base import ProviderEvent
from payflow_app.services import payments
from payflow_app.services.db import is_sqlite, read_session, write_transaction
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
_wakeup: asyncio.Event | None = None


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


def _headers_json(headers: Mapping[str, str]) -> str:
    return json.dumps(dict(headers), sort_keys=True)


def record_webhook(*, provider: str, event: ProviderEvent, headers: Mapping[str, str], body: bytes) -> Stored:
    """Store a verified event once per (provider, event id); a repeat is acknowledged."""
    row = WebhookEvent(
        provider=provider,
        event_id=event.event_id,
        event_type=event.event_type,
        provider_reference=event.provider_reference,
        headers=_headers_json(headers),
        raw_body=body.decode("utf-8", errors="replace"),
    )
    try:
        with write_transaction() as session:
            session.add(row)
            session.flush()
            return Stored(id=pk(row), duplicate=False)
    except IntegrityError:
        with read_session() as session:
            existing = session.exec(
                select(WebhookEvent).where(
                    WebhookEvent.provider == provider, WebhookEvent.event_id == event.event_id
                )
            ).one()
            return Stored(id=pk(existing), duplicate=True)


def record_rejection(*, provider: str, reason: str, headers: Mapping[str, str], body: bytes) -> int:
    """Keep a rejected request for operators; it is never processed."""
    with write_transaction() as session:
        row = WebhookEvent(
            provider=provider,
            status="rejected",
            rejection_reason=reason[:500],
            headers=_headers_json(headers),
            raw_body=body.decode("utf-8", errors="replace"),
        )
        session.add(row)
        session.flush()
        return pk(row)


def wake_worker() -> None:
    if _wakeup is not None:
        _wakeup.set()


def claim_next_event() -> WebhookEvent | None:
    """Take a lease on the oldest due event. PostgreSQL workers skip rows another
    worker has locked; SQLite's write lock serialises the claim."""
    now = utcnow()
    with write_transaction() as session:
        query = (
            select(WebhookEvent)
            .where(WebhookEvent.status == "pending", col(WebhookEvent.next_attempt_at) <= now)
            .where(or_(col(WebhookEvent.locked_until).is_(None), col(WebhookEvent.locked_until) < now))
            .order_by(col(WebhookEvent.id))
            .limit(1)
        )
        if not is_sqlite():
            query = query.with_for_update(skip_locked=True)
        row = session.exec(query).first()
        if row is None:
            return None
        row.locked_until = now + LEASE
        row.attempts += 1
        return row


def _finish(event_id: int, error: str | None) -> None:
    settings = get_settings()
    with write_transaction() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        row.locked_until = None
        if error is None:
            row.status, row.processed_at, row.last_error = "processed", utcnow(), None
            return
        row.last_error = error
        if row.attempts >= settings.inbox_max_attempts:
            row.status = "dead"
        else:
            row.next_attempt_at = utcnow() + timedelta(seconds=min(600, 2**row.attempts))


async def process_event(row: WebhookEvent) -> None:
    """Re-fetch the truth for the event's payment and settle it."""
    error: str | None = None
    try:
        if row.provider_reference is not None:
            payment = await asyncio.to_thread(
                payments.find_payment_for_event, provider=row.provider, reference=row.provider_reference
            )
            if payment is None:
                raise LookupError(f"no payment with {row.provider} reference {row.provider_reference}")
            if payment.provider_reference is None:  # the event overtook the provider's answer
                raise LookupError(f"payment {payment.id} has no provider reference yet")
            await payments.verify_payment(payment_id=pk(payment))
    except Exception:
        error = traceback.format_exc(limit=8)
        log.warning("webhook event %s failed (attempt %s)\n%s", row.id, row.attempts, error)
    await asyncio.to_thread(_finish, pk(row), error)


async def drain_inbox() -> int:
    """Process every due event; answers how many were processed."""
    count = 0
    while (row := await asyncio.to_thread(claim_next_event)) is not None:
        await process_event(row)
        count += 1
    return count


async def run_inbox_worker() -> None:
    """Runs for the app's lifetime: woken at once by a stored webhook, else polls."""
    global _wakeup
    _wakeup = asyncio.Event()
    poll = get_settings().inbox_poll_seconds
    while True:
        _wakeup.clear()  # before draining, so a webhook stored meanwhile is not missed
        try:
            await drain_inbox()
        except Exception:
            log.exception("inbox worker pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_wakeup.wait(), timeout=poll)
