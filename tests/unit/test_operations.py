"""The operator console's data: the stuck-payment filters, an order's timeline, the
review flag, and the metrics with their alerts."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput
from payflow_app.models import Order, Payment, ProcessingAttempt, WebhookEvent, utcnow
from payflow_app.providers.base import ProviderEvent, ProviderStatus
from payflow_app.seed import seed
from payflow_app.services.operations import console, metrics, timeline
from payflow_app.services.operations.console import StuckFilter
from payflow_app.services.payments import attempts, inbox, inbox_worker
from tests import factories
from tests.unit.test_late_money import FakeProvider, provider  # noqa: F401  (fixture)


def _age(payment_id: int, **ago: float) -> None:
    with write_transaction() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        payment.created_at = utcnow() - timedelta(**ago)


def _store(reference: str, event_id: str) -> int:
    event = ProviderEvent(event_id, "checkout.session.completed", reference, {"id": event_id})
    return inbox.record_webhook(provider="stripe", event=event, headers={"x": "1"}, body=b'{"id": "e"}').id


def test_each_filter_lists_what_it_names(seeded: str, provider: FakeProvider) -> None:  # noqa: F811
    late = factories.order(quantity=1)
    stuck = factories.pending_payment(late, "cs_stuck")
    _age(stuck.id, hours=1)  # type: ignore[arg-type]
    fresh = factories.pending_payment(factories.order(quantity=1, email="b@example.com"), "cs_fresh")
    dead = _store("cs_unknown", "evt_dead")
    with write_transaction() as session:
        row = session.get(WebhookEvent, dead)
        assert row is not None
        row.status, row.last_error, row.attempts = "dead", "Traceback…\nLookupError: no payment", 12
    mismatched = factories.pending_payment(factories.order(quantity=1, email="c@example.com"), "cs_short")
    provider.amount = 1
    asyncio.run(attempts.verify_payment(payment_id=mismatched.id))  # type: ignore[arg-type]

    past_due = console.stuck_payments(StuckFilter.PENDING_PAST_DUE)
    assert [r.reference for r in past_due] == ["cs_stuck"]
    assert fresh.provider_reference not in {r.reference for r in past_due}
    dead_rows = console.stuck_payments(StuckFilter.DEAD_LETTERED)
    assert [(r.event_id, r.status) for r in dead_rows] == [(dead, "dead")]
    assert "LookupError: no payment" in dead_rows[0].reason and "12 attempt(s)" in dead_rows[0].reason
    assert [r.reference for r in console.stuck_payments(StuckFilter.AMOUNT_MISMATCH)] == ["cs_short"]
    assert [r.reference for r in console.stuck_payments(StuckFilter.NEEDS_REVIEW)] == ["cs_short"]
    assert console.stuck_payments(StuckFilter.LATE_MONEY) == []
    # Paid a while ago, but fulfilment stopped half-way (e.g. a crash between its steps).
    halfway = factories.pending_payment(factories.order(quantity=1, email="d@example.com"), "cs_halfway")
    with write_transaction() as session:
        row = session.get(Payment, halfway.id)
        assert row is not None
        row.status, row.succeeded_at = "succeeded", utcnow() - timedelta(minutes=5)
        session.get(Order, halfway.order_id).status = "paid"  # type: ignore[union-attr]
    paid = console.stuck_payments(StuckFilter.PAID_NOT_FULFILLED)
    assert [(r.reference, r.reason) for r in paid] == [("cs_halfway", "paid, but the order is paid")]
    counts = console.stuck_counts()
    assert (
        counts["paid_not_fulfilled"] == 1 and counts["amount_mismatch"] == 1 and counts["needs_review"] == 1
    )
    assert counts["pending_past_due"] == 1 and counts["dead_lettered"] == 1 and counts["late_money"] == 0


def test_the_timeline_tells_the_whole_story_in_order(seeded: str, provider: FakeProvider) -> None:  # noqa: F811
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order, "cs_story")
    _store("cs_story", "evt_story")
    provider.status = ProviderStatus.SUCCEEDED
    asyncio.run(inbox_worker.drain_inbox())
    story = timeline.order_timeline(order.id)  # type: ignore[arg-type]
    kinds = [e.kind for e in story.timeline]
    assert {"status", "webhook", "attempt", "email"} <= set(kinds)
    assert story.status == "fulfilled" and story.payments[0].status == "succeeded"
    titles = [e.title for e in story.timeline]
    assert titles.index(f"Payment #{payment.id}: pending → succeeded") > kinds.index("webhook")
    assert any(t.startswith("Processing webhook (worker): ok") for t in titles)
    assert [e.at for e in story.timeline] == sorted(e.at for e in story.timeline)
    webhook = next(e for e in story.timeline if e.kind == "webhook")
    event, body = timeline.webhook_body(webhook.event_id)  # type: ignore[arg-type]
    assert event.event_id == "evt_story" and '"id": "e"' in body


def test_an_operator_flag_needs_a_reason_and_leaves_the_status_alone(seeded: str) -> None:
    payment = factories.pending_payment(factories.order(quantity=1), "cs_flag")
    with pytest.raises(InvalidInput):
        console.mark_for_review(payment_id=payment.id, reason="  ")  # type: ignore[arg-type]
    console.mark_for_review(payment_id=payment.id, reason="customer says they paid twice")  # type: ignore[arg-type]
    rows = console.stuck_payments(StuckFilter.NEEDS_REVIEW)
    assert [(r.reference, r.status) for r in rows] == [("cs_flag", "pending")]
    assert rows[0].reason == "Operator: customer says they paid twice"
    console.resolve_review(payment_id=payment.id)  # type: ignore[arg-type]
    assert console.stuck_payments(StuckFilter.NEEDS_REVIEW) == []


def test_metrics_and_their_alerts(seeded: str, provider: FakeProvider) -> None:  # noqa: F811
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order, "cs_metric")
    _store("cs_metric", "evt_metric")
    provider.status = ProviderStatus.SUCCEEDED
    asyncio.run(inbox_worker.drain_inbox())
    quiet = factories.pending_payment(
        factories.order(quantity=1, email="q@example.com"), "ch_quiet", provider="univapay"
    )
    _age(quiet.id, hours=1)  # type: ignore[arg-type]
    with write_transaction() as session:  # one status query of ten failed
        for n in range(10):
            session.add(
                ProcessingAttempt(
                    kind="sync",
                    trigger="reconciler",
                    payment_id=payment.id,
                    provider="stripe",
                    outcome="error" if n == 0 else "ok",
                )
            )
        waiting = WebhookEvent(
            provider="payhero",
            event_id="late",
            headers="{}",
            raw_body="{}",
            received_at=utcnow() - timedelta(minutes=30),
        )
        session.add(waiting)
    snap = metrics.snapshot()
    assert snap.webhook_processing.count == 1 and snap.payment_to_order.count == 1
    assert snap.sync_attempts == 10 and snap.sync_success_rate == pytest.approx(0.9)
    assert snap.events_by_provider == {"stripe": 1, "payhero": 1}
    assert snap.pending_payments_by_provider == {"univapay": 1}
    assert snap.payments_by_provider == [("stripe", "succeeded", 1), ("univapay", "pending", 1)]
    codes = {alert.code for alert in snap.alerts}
    assert codes == {"webhooks_silent", "sync_failure_rate", "processing_delayed"}
    silent = next(a for a in snap.alerts if a.code == "webhooks_silent")
    assert "univapay" in silent.message
    assert snap.manual_intervention_rate == 0.0  # nobody needed a person


def _spread_activity(now: datetime, rng: random.Random) -> None:
    """A few hundred webhooks and sixty paid orders over the last ~26 hours: clock skew
    (processed "before" received), hour boundaries, microseconds, rows outside the window."""
    template = factories.order(quantity=1)
    with write_transaction() as session:
        for n in range(360):
            received = now - timedelta(seconds=rng.uniform(0, 26 * 3600), microseconds=rng.randrange(10**6))
            if n % 40 == 0:
                received = received.replace(minute=0, second=0, microsecond=0)
            status = rng.choice(
                ["processed", "processed", "processed", "pending", "failed", "dead", "rejected"]
            )
            processed = received + timedelta(seconds=rng.uniform(-0.5, 30)) if status == "processed" else None
            if n % 30 == 1:  # SQLite's date functions would round xx.9999 up to the next second
                status, received = "processed", received.replace(microsecond=100)
                processed = received + timedelta(seconds=40 + rng.randrange(3), microseconds=999_850)
            session.add(
                WebhookEvent(
                    provider=rng.choice(["stripe", "univapay", "payhero"]),
                    event_id=f"evt_{n}",
                    status=status,
                    headers="{}",
                    raw_body="{}",
                    received_at=received,
                    processed_at=processed,
                )
            )
        for n in range(60):
            succeeded = now - timedelta(seconds=rng.uniform(0, 26 * 3600), microseconds=rng.randrange(10**6))
            completed = succeeded + timedelta(seconds=rng.uniform(0, 5)) if n % 7 else None
            order = Order(
                number=f"T-METRIC-{n}",
                user_id=template.user_id,
                event_id=template.event_id,
                unit_price_minor=1000,
                amount_minor=1000,
                currency=template.currency,
                status="fulfilled" if completed else "paid",
                completed_at=completed,
            )
            session.add(order)
            session.flush()
            session.add(
                Payment(
                    order_id=order.id,  # type: ignore[arg-type]
                    provider="stripe",
                    provider_reference=f"cs_metric_{n}",
                    idempotency_key=f"idem-metric-{n}",
                    amount_minor=1000,
                    currency=template.currency,
                    status="succeeded",
                    succeeded_at=succeeded,
                    created_at=succeeded - timedelta(seconds=30),
                    review_code="manual" if n % 11 == 0 else None,
                )
            )


def _in_python(now: datetime) -> dict[str, object]:
    """The figures computed the way ``snapshot`` used to: every row loaded and counted."""
    since = now - metrics.WINDOW
    with read_session() as session:
        events = [e for e in session.exec(select(WebhookEvent)).all() if e.received_at >= since]
        paid = session.exec(select(Payment, Order).join(Order, col(Order.id) == col(Payment.order_id))).all()
    processed = [
        max(0.0, (e.processed_at - e.received_at).total_seconds())
        for e in events
        if e.status == "processed" and e.processed_at is not None
    ]
    to_order = [
        max(0.0, (o.completed_at - p.succeeded_at).total_seconds())
        for p, o in paid
        if p.succeeded_at is not None and p.succeeded_at >= since and o.completed_at is not None
    ]
    hours = Counter((e.received_at.replace(minute=0, second=0, microsecond=0), e.provider) for e in events)
    return {
        "webhook_processing": metrics.Timing.of(processed),
        "payment_to_order": metrics.Timing.of(to_order),
        "events_by_provider": dict(Counter(e.provider for e in events)),
        "events_by_status": dict(Counter(e.status for e in events)),
        "events_over_time": sorted((hour, rail, count) for (hour, rail), count in hours.items()),
        "payments_total": sum(1 for p, _o in paid if p.created_at >= since),
        "payments_flagged": sum(1 for p, _o in paid if p.created_at >= since and p.review_code),
    }


def test_the_metrics_aggregated_by_the_database_match_counting_every_row(any_db: str) -> None:
    """``snapshot`` counts, buckets and ranks in SQL on SQLite and PostgreSQL alike."""
    seed()
    now = utcnow()
    _spread_activity(now, random.Random(13))
    snap = metrics.snapshot(now)
    expected = _in_python(now)
    assert snap.events_over_time == expected["events_over_time"]
    assert all(hour.tzinfo is not None and hour.minute == 0 for hour, _p, _c in snap.events_over_time)
    for name in ("events_by_provider", "events_by_status", "payments_total", "payments_flagged"):
        assert getattr(snap, name) == expected[name], name
    for name in ("webhook_processing", "payment_to_order"):
        timing, want = getattr(snap, name), expected[name]
        assert isinstance(want, metrics.Timing)
        assert timing.count == want.count > 20, name
        assert timing == want, name  # to the microsecond
    assert sum(snap.events_by_provider.values()) < 360  # some were older than the window
