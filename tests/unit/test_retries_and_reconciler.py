"""The inbox's retries and dead letters, the reconciler's schedule, flags and
expiries, and the lease that keeps the reconciler to one worker."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import DomainError
from payflow_app.models import Order, Payment, ProcessingAttempt, WebhookEvent, utcnow
from payflow_app.providers.base import PaymentTruth, ProviderEvent, ProviderStatus
from payflow_app.services.payments import attempts as payments
from payflow_app.services.payments import inbox, inbox_worker, late_money, reconciler
from payflow_app.services.payments.leases import hold_lease, release_lease
from payflow_app.services.payments.snapshot import order_snapshot
from payflow_app.settings import reload_settings
from tests import factories
from tests.unit.test_late_money import FakeProvider


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    fake = FakeProvider(status=ProviderStatus.PENDING)
    for module in (payments, late_money, reconciler):
        monkeypatch.setattr(module, "get_provider", lambda _id: fake)
    return fake


def _settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"PAYFLOW_{key.upper()}", value)
    reload_settings()


def _store(reference: str, event_id: str = "evt_1") -> int:
    event = ProviderEvent(event_id, "checkout.session.completed", reference, {})
    return inbox.record_webhook(provider="stripe", event=event, headers={}, body=b"{}").id


def _event(event_id: int) -> WebhookEvent:
    with read_session() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        return row


def test_retry_delays_double_with_jitter_up_to_the_cap(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, inbox_retry_first_seconds="5", inbox_retry_max_seconds="600")
    for attempts, base in ((1, 5), (2, 10), (3, 20), (6, 160)):
        delays = [inbox.retry_delay(attempts) for _ in range(200)]
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert max(delays) - min(delays) > base * 0.1  # spread, not lockstep
    assert all(inbox.retry_delay(20) <= 600 for _ in range(50))


def test_a_failing_event_keeps_every_attempt_then_is_dead_lettered_and_replayable(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    # The retry is not due before the drain ends (a 10 ms one was, on a loaded machine).
    _settings(monkeypatch, inbox_retry_first_seconds="5", inbox_retry_max_seconds="10")
    event_id = _store("cs_nobody_knows")  # no payment has this reference (yet)
    assert asyncio.run(inbox_worker.drain_inbox()) == 1
    first = _event(event_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error is not None and "LookupError" in first.last_error
    assert first.next_attempt_at > utcnow() - timedelta(seconds=1)
    # The retry window runs out: the next failure dead-letters it.
    with write_transaction() as session:
        row = session.get(WebhookEvent, event_id)
        assert row is not None
        row.received_at, row.next_attempt_at = utcnow() - timedelta(days=2), utcnow()
    asyncio.run(inbox_worker.drain_inbox())
    assert _event(event_id).status == "dead"
    assert asyncio.run(inbox_worker.drain_inbox()) == 0  # the worker leaves dead letters alone
    with read_session() as session:
        attempts = session.exec(
            select(ProcessingAttempt).where(ProcessingAttempt.webhook_event_id == event_id)
        ).all()
    assert [a.outcome for a in attempts] == ["error", "error"]
    assert all(a.error and "Traceback" in a.error for a in attempts)

    # The payment appears (its start was slow); the operator replays the event.
    order = factories.order(quantity=1)
    factories.pending_payment(order, "cs_nobody_knows")
    provider.status = ProviderStatus.SUCCEEDED
    inbox.replay_event(event_id=event_id)
    with pytest.raises(DomainError, match="already waiting"):
        inbox.replay_event(event_id=event_id)
    assert asyncio.run(inbox_worker.drain_inbox()) == 1
    replayed = _event(event_id)
    assert replayed.status == "processed" and replayed.replayed_at is not None
    with read_session() as session:
        assert session.get(Order, order.id).status == "fulfilled"  # type: ignore[union-attr]
        last = session.exec(
            select(ProcessingAttempt)
            .where(ProcessingAttempt.webhook_event_id == event_id)
            .order_by(
                ProcessingAttempt.id.desc()  # type: ignore[union-attr]
            )
        ).first()
    assert last is not None and (last.trigger, last.outcome) == ("replay", "ok")


def test_a_rejected_request_is_never_replayed(seeded: str) -> None:
    rejected = inbox.record_rejection(provider="stripe", reason="bad signature", headers={}, body=b"{}")
    with pytest.raises(DomainError, match="never verified"):
        inbox.replay_event(event_id=rejected)
    assert _event(rejected).status == "rejected"


def _due(payment_id: int) -> None:
    with write_transaction() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        payment.next_sync_at = utcnow() - timedelta(seconds=1)


def _payment(payment_id: int) -> Payment:
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment


def test_no_final_answer_after_the_last_query_is_flagged_and_a_late_answer_clears_it(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    _settings(monkeypatch, pending_sync_max_attempts="3")
    payment = factories.pending_payment(factories.order(quantity=1), "ch_quiet", provider="univapay")
    for expected in (1, 2, 3):
        _due(payment.id)  # type: ignore[arg-type]
        report = asyncio.run(reconciler.sync_due_payments())
        assert report.synced == 1 and _payment(payment.id).sync_attempts == expected  # type: ignore[arg-type]
    flagged = _payment(payment.id)  # type: ignore[arg-type]
    assert (flagged.status, flagged.review_code) == ("requires_review", "no_final_answer")
    assert flagged.flagged_at is not None and "3 status queries" in (flagged.review_reason or "")
    waiting = order_snapshot(flagged.order_id, with_qr=False)
    assert waiting is not None and not waiting.is_closed  # the customer's page keeps listening
    # An operator's "sync now" still asks about it; the provider finally says paid.
    provider.status = ProviderStatus.SUCCEEDED
    report = asyncio.run(reconciler.sync_open_payments_now())
    assert report.as_dict() == {"synced": 1, "failed": 0, "skipped": 0}
    settled = _payment(payment.id)  # type: ignore[arg-type]
    assert settled.status == "succeeded" and settled.flagged_at is None
    with read_session() as session:
        syncs = session.exec(
            select(ProcessingAttempt).where(ProcessingAttempt.payment_id == payment.id)
        ).all()
    assert [s.trigger for s in syncs] == ["reconciler"] * 3 + ["operator"]


def test_a_failing_status_api_is_retried_and_counted(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    payment = factories.pending_payment(factories.order(quantity=1), "ch_flaky", provider="univapay")

    async def broken(_reference: str) -> None:
        raise TimeoutError("status API timed out")

    monkeypatch.setattr(provider, "fetch_payment", broken)
    _due(payment.id)  # type: ignore[arg-type]
    assert asyncio.run(reconciler.sync_due_payments()).as_dict() == {"synced": 0, "failed": 1, "skipped": 0}
    after = _payment(payment.id)  # type: ignore[arg-type]
    assert after.status == "pending" and after.sync_locked_until is None
    assert after.next_sync_at is not None and after.next_sync_at > utcnow()  # asked again later
    monkeypatch.undo()  # the provider recovers (fixtures re-applied below)
    for module in (payments, late_money, reconciler):
        monkeypatch.setattr(module, "get_provider", lambda _id: provider)
    provider.status = ProviderStatus.SUCCEEDED
    _due(payment.id)  # type: ignore[arg-type]
    assert asyncio.run(reconciler.sync_due_payments()).synced == 1
    assert _payment(payment.id).status == "succeeded"  # type: ignore[arg-type]


def test_sessions_past_their_lifetime_and_cards_that_never_came_are_closed(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    _settings(monkeypatch, uncharged_payment_lifetime_minutes="30")
    session_order = factories.order(quantity=1)
    open_session = factories.pending_payment(session_order, "cs_left_open")
    card_order = factories.order(quantity=1, email="bo@example.com")
    with write_transaction() as session:
        row = session.get(Payment, open_session.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
        widget = Payment(
            order_id=card_order.id,  # type: ignore[arg-type]
            provider="univapay",
            idempotency_key="idem-widget",
            amount_minor=card_order.amount_minor,
            currency=card_order.currency,
            status="pending",
            created_at=utcnow() - timedelta(hours=1),
        )
        session.add(widget)
        session.get(Order, card_order.id).status = "awaiting_payment"  # type: ignore[union-attr]
        session.flush()
        widget_id = widget.id
    provider.status = ProviderStatus.EXPIRED  # what expiring the session answers
    assert asyncio.run(reconciler.close_overdue_payments()) == 2
    assert _payment(open_session.id).status == "expired"  # type: ignore[arg-type]
    assert _payment(widget_id).status == "expired"  # type: ignore[arg-type]
    with read_session() as session:
        assert session.get(Order, session_order.id).status == "expired"  # type: ignore[union-attr]
        assert session.get(Order, card_order.id).status == "expired"  # type: ignore[union-attr]


def test_the_reconciler_runs_in_one_holder_at_a_time(seeded: str) -> None:
    assert hold_lease("reconciler", seconds=30, holder="worker-a")
    assert not hold_lease("reconciler", seconds=30, holder="worker-b")
    assert hold_lease("reconciler", seconds=30, holder="worker-a")  # renewed by its holder
    release_lease("reconciler", holder="worker-a")
    assert hold_lease("reconciler", seconds=0.01, holder="worker-b")
    asyncio.run(asyncio.sleep(0.05))  # worker-b died without releasing: the lease runs out
    assert hold_lease("reconciler", seconds=30, holder="worker-a")


def test_switching_background_sync_off_stops_the_reconciler(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    payment = factories.pending_payment(factories.order(quantity=1), "ch_off", provider="univapay")
    provider.status = ProviderStatus.SUCCEEDED

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(reconciler.run_reconciler())
        await asyncio.sleep(seconds)
        task.cancel()

    _settings(monkeypatch, background_sync_enabled="false", pending_sync_poll_seconds="0.05")
    _due(payment.id)  # type: ignore[arg-type]
    asyncio.run(run_for(0.4))
    assert _payment(payment.id).status == "pending"  # type: ignore[arg-type]
    _settings(monkeypatch, background_sync_enabled="true")
    asyncio.run(run_for(0.4))
    assert _payment(payment.id).status == "succeeded"  # type: ignore[arg-type]


def test_every_status_move_is_recorded_for_the_timeline(seeded: str, provider: FakeProvider) -> None:
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order, "cs_audit")
    provider.status = ProviderStatus.SUCCEEDED
    asyncio.run(payments.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    from payflow_app.models import StatusChange

    with read_session() as session:
        moves = session.exec(
            select(StatusChange.subject, StatusChange.from_status, StatusChange.to_status)
            .where(StatusChange.order_id == order.id)
            .order_by(StatusChange.id)  # type: ignore[arg-type]
        ).all()
    assert ("order", None, "pending") in moves
    assert ("order", "pending", "awaiting_payment") in moves
    assert ("payment", None, "pending") in moves
    assert ("payment", "pending", "succeeded") in moves
    assert moves.index(("order", "awaiting_payment", "paid")) < moves.index(("order", "paid", "fulfilled"))


def test_a_landing_makes_the_order_provisional_until_the_provider_confirms_it(
    seeded: str, provider: FakeProvider
) -> None:
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order, "cs_landed")
    payments.customer_landed(payment.id)  # type: ignore[arg-type]
    with read_session() as session:
        landed = session.get(Order, order.id)
    assert landed is not None and landed.is_provisional and landed.provisional_created_at is not None
    provider.status = ProviderStatus.SUCCEEDED
    asyncio.run(payments.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    payments.customer_landed(payment.id)  # type: ignore[arg-type]  (a reload after the promotion)
    with read_session() as session:
        promoted = session.get(Order, order.id)
    assert promoted is not None and promoted.status == "fulfilled" and not promoted.is_provisional
    assert promoted.provisional_created_at == landed.provisional_created_at


def test_a_slow_provider_times_out_and_does_not_hold_the_other_events(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    """The worker's status query gives up after PAYFLOW_WORKER_STATUS_TIMEOUT_SECONDS:
    the slow rail's event is retried later, the next event is settled meanwhile."""
    _settings(monkeypatch, worker_status_timeout_seconds="0.3", inbox_retry_first_seconds="60")
    slow = factories.pending_payment(factories.order(quantity=1), "cs_slow")
    fast = factories.pending_payment(factories.order(quantity=1, email="b@example.com"), "cs_fast")
    provider.status = ProviderStatus.SUCCEEDED
    answer = provider.fetch_payment

    async def hanging_for_cs_slow(reference: str) -> PaymentTruth:
        if reference == "cs_slow":
            await asyncio.sleep(30)
        return await answer(reference)

    monkeypatch.setattr(provider, "fetch_payment", hanging_for_cs_slow)
    slow_event, fast_event = _store("cs_slow", "evt_slow"), _store("cs_fast", "evt_fast")
    started = time.monotonic()
    assert asyncio.run(inbox_worker.drain_inbox()) == 2
    assert time.monotonic() - started < 5
    waiting = _event(slow_event)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error is not None
    assert "stripe did not answer its status query within 0.3 s" in waiting.last_error
    assert waiting.next_attempt_at > utcnow() + timedelta(seconds=30)  # retried with backoff
    assert _event(fast_event).status == "processed"
    assert (_payment(fast.id).status, _payment(slow.id).status) == ("succeeded", "pending")  # type: ignore[arg-type]


def test_events_are_claimed_by_due_time_not_by_age(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A retry due in a minute waits behind a newer event due now, and comes before a
    newer event due after it (one lane: the worker's claims, one after another)."""
    _settings(monkeypatch, inbox_concurrency_per_provider="1")
    now = utcnow()
    retry, fresh, later = _store("cs_a", "evt_a"), _store("cs_b", "evt_b"), _store("cs_c", "evt_c")
    with write_transaction() as session:
        for event_id, due in ((retry, now - timedelta(seconds=5)), (fresh, now - timedelta(seconds=30))):
            row = session.get(WebhookEvent, event_id)
            assert row is not None
            row.next_attempt_at = due
        row = session.get(WebhookEvent, later)
        assert row is not None
        row.next_attempt_at = now - timedelta(seconds=1)
    claimed = []

    async def processed(row: WebhookEvent) -> inbox.AttemptResult:
        claimed.append(row.id)
        return inbox.AttemptResult(payment_id=None, detail=None, error=None, duration_ms=0)

    monkeypatch.setattr(inbox_worker, "process_event", processed)
    assert asyncio.run(inbox_worker.drain_inbox()) == 3
    assert claimed == [fresh, retry, later]


def test_an_event_whose_attempt_outlives_its_lease_is_not_taken_again_by_this_process(
    seeded: str, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    """Events of one provider are processed a few at a time: a lane that is free
    leaves alone an event another lane of this process still has in hand, even once
    its lease has run out (another process would take it then: the killed-worker case)."""
    _settings(monkeypatch, inbox_lease_seconds="0.2", inbox_concurrency_per_provider="4")
    slow = factories.pending_payment(factories.order(quantity=1), "cs_slow")
    factories.pending_payment(factories.order(quantity=1, email="b@example.com"), "cs_fast")
    provider.status = ProviderStatus.SUCCEEDED
    answer = provider.fetch_payment

    async def slow_for_cs_slow(reference: str) -> PaymentTruth:
        if reference == "cs_slow":
            await asyncio.sleep(1)  # five leases
        return await answer(reference)

    monkeypatch.setattr(provider, "fetch_payment", slow_for_cs_slow)
    slow_event, fast_event = _store("cs_slow", "evt_slow"), _store("cs_fast", "evt_fast")
    assert asyncio.run(inbox_worker.drain_inbox()) == 2  # two lanes, one event each
    for event_id in (slow_event, fast_event):
        assert (_event(event_id).status, _event(event_id).attempts) == ("processed", 1)
    with read_session() as session:
        attempts = session.exec(
            select(ProcessingAttempt).where(ProcessingAttempt.webhook_event_id == slow_event)
        ).all()
    assert [a.outcome for a in attempts] == ["ok"]
    assert _payment(slow.id).status == "succeeded"  # type: ignore[arg-type]
