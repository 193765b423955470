"""The webhook inbox: store first, acknowledge, process after.

``store_webhook`` stores every verified request and is the only thing the HTTP
endpoint waits for: webhooks arriving together are stored in one transaction by one
writer (group commit), each answered once committed; ``record_rejection`` keeps
rejected requests for operators. The worker (``inbox_worker``) claims stored events with a
lease, asks the provider for the truth and settles the payment through the one
idempotent fulfilment: up to ``inbox_concurrency_per_provider`` events of each
provider at once (lanes), so one provider's slow or failing status API holds only
its own events (two events of one payment may run at once; fulfilment locks its
rows). A lane records its attempt and claims its next event in one transaction,
shared by the lanes that come at the same moment (:class:`Turn`).
Every attempt is kept (``processing_attempt``: duration, error, traceback). A
failed attempt is retried with exponential backoff and jitter for
``inbox_retry_for_seconds``, then the event is dead-lettered until an operator
replays it (``replay_event``). A worker killed mid-way loses its lease and another
worker takes the event again; the fulfilment is idempotent, so it runs once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import traceback
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from payflow_app.core.db import is_sqlite, lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, NotFound
from payflow_app.core.group_commit import GroupCommit
from payflow_app.core.redaction import redact_headers
from payflow_app.core.states import InboxStatus
from payflow_app.models import ProcessingAttempt, WebhookEvent, pk, utcnow
from payflow_app.providers.base import ProviderEvent
from payflow_app.services.payments import attempts as payments
from payflow_app.services.payments import rejections
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


@dataclass(frozen=True)
class Incoming:
    """A verified webhook to store."""

    provider: str
    event: ProviderEvent
    headers: Mapping[str, str]
    body: bytes


def _new_row(item: Incoming) -> WebhookEvent:
    return WebhookEvent(
        provider=item.provider,
        event_id=item.event.event_id,
        event_type=item.event.event_type,
        provider_reference=item.event.provider_reference,
        headers=_headers_json(item.headers),
        raw_body=item.body.decode("utf-8", errors="replace"),
    )


def record_webhook(*, provider: str, event: ProviderEvent, headers: Mapping[str, str], body: bytes) -> Stored:
    """Store a verified event once per (provider, event id); a repeat is acknowledged.
    One transaction of its own: the endpoint stores through :func:`store_webhook`."""
    row = _new_row(Incoming(provider, event, headers, body))
    try:
        with write_transaction(urgent=True) as session:
            session.add(row)
            session.flush()
            return Stored(id=pk(row), duplicate=False)
    except IntegrityError:
        with read_session() as session:
            return Stored(id=_stored_id(session, provider, event.event_id), duplicate=True)


def _stored_id(session: Session, provider: str, event_id: str) -> int:
    found = session.exec(
        select(WebhookEvent.id).where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
    ).one()
    assert found is not None
    return found


def _store_batch(items: Sequence[Incoming]) -> list[Stored]:
    """Store ``items`` in one transaction and one statement, each (provider, event
    id) once: a repeat in the batch, or of an event stored before, is answered as a
    duplicate of the stored row."""
    firsts: dict[tuple[str, str], int] = {}  # the first item of each key
    for index, item in enumerate(items):
        firsts.setdefault((item.provider, item.event.event_id), index)
    insert = sqlite_insert if is_sqlite() else postgresql_insert
    statement = (
        insert(WebhookEvent)
        .values([_new_row(items[index]).model_dump(exclude={"id"}) for index in firsts.values()])
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(col(WebhookEvent.id), col(WebhookEvent.provider), col(WebhookEvent.event_id))
    )
    with write_transaction(urgent=True) as session:  # the providers wait for the answer
        ids = {(provider, event_id): row_id for row_id, provider, event_id in session.execute(statement)}
        new = set(ids)
        if repeats := [key for key in firsts if key not in new]:  # stored before: by us or another process
            found = session.execute(
                select(WebhookEvent.id, WebhookEvent.provider, WebhookEvent.event_id).where(
                    tuple_(col(WebhookEvent.provider), col(WebhookEvent.event_id)).in_(repeats)
                )
            )
            ids.update({(provider, event_id): row_id for row_id, provider, event_id in found})
    return [
        Stored(id=ids[key], duplicate=not (key in new and firsts[key] == index))
        for index, key in enumerate((item.provider, item.event.event_id) for item in items)
    ]


def _store_one(item: Incoming) -> Stored:
    return record_webhook(provider=item.provider, event=item.event, headers=item.headers, body=item.body)


_writer: GroupCommit[Incoming, Stored] = GroupCommit(
    "webhook-inbox-writer", write_batch=_store_batch, write_one=_store_one
)


async def store_webhook(
    *, provider: str, event: ProviderEvent, headers: Mapping[str, str], body: bytes
) -> Stored:
    """What the endpoint waits for: the event stored with the others arriving at the
    same time, in one transaction (:mod:`~payflow_app.core.group_commit`);
    answered once that transaction has committed. Raises when it could not be stored."""
    return await _writer.write(Incoming(provider, event, headers, body))


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
    (:mod:`~payflow_app.services.payments.rejections`); None when it was only counted.
    ``size`` is given when ``body`` is just the start of a body too large to read."""
    kept = rejections.kept_body(body, size=size)
    with write_transaction() as session:
        if not rejections.admit(session, source):
            return None
        row = WebhookEvent(
            provider=provider,
            status=InboxStatus.REJECTED,
            rejection_reason=rejections.text_storable(reason[:500]),
            headers=_headers_json(headers),
            raw_body=kept.text,
            body_size=kept.size,
            body_sha256=kept.sha256,
            source=source[:100],
        )
        session.add(row)
        session.flush()
        return pk(row)


def new_wakeup() -> asyncio.Event:
    """The event this process's running worker waits on (``inbox_worker``)."""
    global _wakeup
    _wakeup = asyncio.Event()
    return _wakeup


def wake_worker() -> None:
    if _wakeup is not None:
        _wakeup.set()


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending, due, and not in another worker's hands."""
    return and_(
        col(WebhookEvent.status) == InboxStatus.PENDING,
        col(WebhookEvent.next_attempt_at) <= now,
        or_(col(WebhookEvent.locked_until).is_(None), col(WebhookEvent.locked_until) < now),
    )


def _claim(session: Session, provider: str | None, skip: Collection[int]) -> WebhookEvent | None:
    """Take a lease on the event due first (``next_attempt_at``, then arrival), of
    ``provider`` when given and not in ``skip``, in the caller's transaction: a retry
    waits its turn by its due time, not by how old the event is. PostgreSQL workers
    skip rows another worker has locked; SQLite's write lock serialises the claim."""
    now = utcnow()
    query = select(WebhookEvent).where(_due(now))
    if provider is not None:
        query = query.where(WebhookEvent.provider == provider)
    if skip:
        query = query.where(col(WebhookEvent.id).not_in(skip))
    query = query.order_by(col(WebhookEvent.next_attempt_at), col(WebhookEvent.id)).limit(1)
    if not is_sqlite():
        query = query.with_for_update(skip_locked=True)
    row = session.exec(query).first()
    if row is None:
        return None
    row.locked_until = now + timedelta(seconds=get_settings().inbox_lease_seconds)
    row.attempts += 1
    return row


def due_events_by_provider() -> dict[str, int]:
    """How many events of each provider are due and unclaimed (a read: it takes no
    write lock, so the worker may ask at every wake-up)."""
    with read_session() as session:
        rows = session.exec(
            select(WebhookEvent.provider, func.count())
            .where(_due(utcnow()))
            .group_by(col(WebhookEvent.provider))
        ).all()
    return {provider: count for provider, count in rows}


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


def _record_attempt(session: Session, event_id: int, result: AttemptResult) -> None:
    """Keep the attempt and close it: processed, or due again after a backoff, or
    dead-lettered once its retry window has passed. Releases the lease."""
    settings = get_settings()
    event = lock(session, WebhookEvent, event_id)
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
        event.status, event.processed_at, event.last_error = InboxStatus.PROCESSED, utcnow(), None
        return
    event.last_error = result.error
    window_start = event.replayed_at or event.received_at
    if utcnow() - window_start >= timedelta(seconds=settings.inbox_retry_for_seconds):
        event.status = InboxStatus.DEAD
        log.error("webhook event %s dead-lettered after %s attempts", event.id, event.attempts)
    else:
        event.next_attempt_at = utcnow() + timedelta(seconds=retry_delay(event.attempts))


@dataclass(frozen=True)
class Turn:
    """A lane's turn at the inbox: record the attempt it has just made, if any, and
    take its next event of ``provider``, none of ``skip`` (this process's in hand)."""

    provider: str
    finished: tuple[int, AttemptResult] | None
    skip: frozenset[int]


def _take_turns(turns: Sequence[Turn]) -> list[WebhookEvent | None]:
    """The turns of lanes that came to the inbox together, in one transaction: a
    burst's lanes share their commits; never one event for two of them."""
    with write_transaction() as session:
        for turn in turns:
            if turn.finished is not None:
                _record_attempt(session, *turn.finished)
        taken: set[int] = set()
        answers = []
        for turn in turns:
            row = _claim(session, turn.provider, turn.skip | taken)
            if row is not None:
                taken.add(pk(row))
            answers.append(row)
        return answers


def _take_turn(turn: Turn) -> WebhookEvent | None:
    [row] = _take_turns([turn])
    return row


_turns: GroupCommit[Turn, WebhookEvent | None] = GroupCommit(
    "webhook-inbox-lanes", write_batch=_take_turns, write_one=_take_turn
)


async def take_turn(turn: Turn) -> WebhookEvent | None:
    """A lane's turn, sharing its transaction with the lanes that come at once."""
    return await _turns.write(turn)


async def process_event(row: WebhookEvent) -> AttemptResult:
    """Re-fetch the truth for the event's payment and settle it. The lane records
    the attempt with its next claim (:class:`Turn`)."""
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
    return AttemptResult(payment_id, detail, error, int((time.perf_counter() - started) * 1000))


def replay_event(*, event_id: int) -> None:
    """Send a dead-lettered (or already processed) event back to the worker now. An
    unverified request is never processed; an event already waiting is left alone."""
    with write_transaction() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None:
            raise NotFound("We could not find this webhook event.")
        if event.status == InboxStatus.REJECTED:
            raise DomainError(
                "A rejected request was never verified and cannot be replayed.", code="rejected"
            )
        if event.status == InboxStatus.PENDING:
            raise DomainError("This event is already waiting for the worker.", code="already_pending")
        event.status, event.replayed_at, event.next_attempt_at = InboxStatus.PENDING, utcnow(), utcnow()
        event.locked_until = None
    log.info("webhook event %s replayed by an operator", event_id)
    wake_worker()
