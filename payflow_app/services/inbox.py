"""The webhook inbox: store first, acknowledge, process after.

``record_webhook`` stores every request (rejected ones too, for operators) and is the
only thing the HTTP endpoint waits for. ``run_inbox_worker`` claims stored events
with a lease, asks the provider for the truth and settles the payment through the
one idempotent fulfilment. Every attempt is kept (``processing_attempt``: duration,
error, traceback). A failed attempt is retried with exponential backoff and jitter
for ``inbox_retry_for_seconds``, then the event is dead-lettered until an operator
replays it (``replay_event``). A worker killed mid-way loses its lease and another
worker takes the event again; the fulfilment is idempotent, so it runs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select

from payflow_app.models import ProcessingAttempt, WebhookEvent, pk, utcnow
from payflow_app.providers.base import ProviderEvent
from payflow_app.services import payments, rejections
from payflow_app.services.db import is_sqlite, lock, read_session, write_transaction
from payflow_app.services.errors import DomainError, NotFound
from payflow_app.services.redaction import redact_headers
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
_jitter = random.Random()
_wakeup: asyncio.Event | None = None


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


def _headers_json(headers: Mapping[str, str]) -> str:
    """What is kept of a request's headers: credentials redacted (operators read it)."""
    return json.dumps(redact_headers(headers), sort_keys=True)


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


def record_rejection(
    *,
    provider: str,
    reason: str,
    headers: Mapping[str, str],
    body: bytes,
    source: str = "unknown",
    size: int | None = None,
) -> int | None:
    """Keep a rejected request for operators; it is never processed. Only its body's
    start is kept, and only while ``source`` (the client address) is under its cap
    (:mod:`~payflow_app.services.rejections`); None when it was only counted.
    ``size`` is given when ``body`` is just the start of a body too large to read."""
    kept = rejections.kept_body(body, size=size)
    with write_transaction() as session:
        if not rejections.admit(session, source):
            return None
        row = WebhookEvent(
            provider=provider,
            status="rejected",
            rejection_reason=reason[:500],
            headers=_headers_json(headers),
            raw_body=kept.text,
            body_size=kept.size,
            body_sha256=kept.sha256,
            source=source[:100],
        )
        session.add(row)
        session.flush()
        return pk(row)


def wake_worker() -> None:
    if _wakeup is not None:
        _wakeup.set()


def claim_next_event() -> WebhookEvent | None:
    """Take a lease on the event due first (``next_attempt_at``, then arrival): a
    retry waits its turn by its due time, not by how old the event is. PostgreSQL
    workers skip rows another worker has locked; SQLite's write lock serialises the
    claim."""
    now = utcnow()
    with write_transaction() as session:
        query = (
            select(WebhookEvent)
            .where(WebhookEvent.status == "pending", col(WebhookEvent.next_attempt_at) <= now)
            .where(or_(col(WebhookEvent.locked_until).is_(None), col(WebhookEvent.locked_until) < now))
            .order_by(col(WebhookEvent.next_attempt_at), col(WebhookEvent.id))
            .limit(1)
        )
        if not is_sqlite():
            query = query.with_for_update(skip_locked=True)
        row = session.exec(query).first()
        if row is None:
            return None
        row.locked_until = now + timedelta(seconds=get_settings().inbox_lease_seconds)
        row.attempts += 1
        return row


def retry_delay(attempts: int) -> float:
    """Seconds until the next try after ``attempts`` failed ones: doubling from the
    first delay up to the cap, spread by ±20 % so a burst of failures does not retry
    in lockstep."""
    settings = get_settings()
    base = min(
        settings.inbox_retry_max_seconds, settings.inbox_retry_first_seconds * 2 ** max(0, attempts - 1)
    )
    return float(min(settings.inbox_retry_max_seconds, base * _jitter.uniform(0.8, 1.2)))


@dataclass(frozen=True)
class AttemptResult:
    payment_id: int | None
    detail: str | None
    error: str | None  # the traceback
    duration_ms: int


def _finish(row: WebhookEvent, result: AttemptResult) -> None:
    settings = get_settings()
    with write_transaction() as session:
        event = lock(session, WebhookEvent, pk(row))
        session.add(
            ProcessingAttempt(
                kind="webhook",
                trigger="replay" if event.replayed_at is not None else "worker",
                webhook_event_id=pk(event),
                payment_id=result.payment_id,
                provider=event.provider,
                started_at=utcnow() - timedelta(milliseconds=result.duration_ms),
                duration_ms=result.duration_ms,
                outcome="error" if result.error else "ok",
                detail=(result.detail or "")[:300] or None,
                error=result.error,
            )
        )
        event.locked_until = None
        if result.error is None:
            event.status, event.processed_at, event.last_error = "processed", utcnow(), None
            return
        event.last_error = result.error
        window_start = event.replayed_at or event.received_at
        if utcnow() - window_start >= timedelta(seconds=settings.inbox_retry_for_seconds):
            event.status = "dead"
            log.error("webhook event %s dead-lettered after %s attempts", event.id, event.attempts)
        else:
            event.next_attempt_at = utcnow() + timedelta(seconds=retry_delay(event.attempts))


async def process_event(row: WebhookEvent) -> AttemptResult:
    """Re-fetch the truth for the event's payment and settle it; the attempt is kept."""
    started = time.perf_counter()
    payment_id: int | None = None
    detail: str | None = None
    error: str | None = None
    try:
        if row.provider_reference is not None:
            payment = await asyncio.to_thread(
                payments.find_payment_for_event, provider=row.provider, reference=row.provider_reference
            )
            if payment is None:
                raise LookupError(f"no payment with {row.provider} reference {row.provider_reference}")
            payment_id = pk(payment)
            if payment.provider_reference is None:  # the event overtook the provider's answer
                raise LookupError(f"payment {payment.id} has no provider reference yet")
            timeout = get_settings().worker_status_timeout_seconds
            truth = await payments.verify_payment(payment_id=payment_id, timeout=timeout)
            detail = f"provider says {truth.status}"
        else:
            detail = "nothing to settle: the event names no payment"
    except Exception as exc:
        error = traceback.format_exc(limit=8)
        detail = f"{type(exc).__name__}: {exc}"
        log.warning("webhook event %s failed (attempt %s)\n%s", row.id, row.attempts, error)
    result = AttemptResult(payment_id, detail, error, int((time.perf_counter() - started) * 1000))
    await asyncio.to_thread(_finish, row, result)
    return result


def replay_event(*, event_id: int) -> None:
    """Send a dead-lettered (or already processed) event back to the worker now. An
    unverified request is never processed; an event already waiting is left alone."""
    with write_transaction() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None:
            raise NotFound("We could not find this webhook event.")
        if event.status == "rejected":
            raise DomainError(
                "A rejected request was never verified and cannot be replayed.", code="rejected"
            )
        if event.status == "pending":
            raise DomainError("This event is already waiting for the worker.", code="already_pending")
        event.status, event.replayed_at, event.next_attempt_at = "pending", utcnow(), utcnow()
        event.locked_until = None
    log.info("webhook event %s replayed by an operator", event_id)
    wake_worker()


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
