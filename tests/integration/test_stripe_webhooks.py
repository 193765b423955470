"""``POST /api/webhooks/stripe`` with real ``Stripe-Signature`` headers."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from payflow_app.services.payments import inbox as inbox_service
from tests.integration.conftest import wait_until
from tests.integration.helpers import (
    inbox,
    mark_paid_quietly,
    order_of,
    payment_of,
    signed_event,
    start_payment,
    tickets_of,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"


def test_signed_event_is_stored_acknowledged_and_processed(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    body, headers = signed_event(mark_paid_quietly(session_id))
    response = http.post("/api/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment")
    wait_until(lambda: [e.status for e in inbox(session_id)] == ["processed"], what="the event processed")
    [stored] = inbox(session_id)
    assert stored.attempts == 1
    assert json.loads(stored.raw_body)["id"] == json.loads(body)["id"]  # the raw body is kept
    assert json.loads(stored.headers)["stripe-signature"] == headers["Stripe-Signature"]


def test_the_same_event_three_times_concurrently_fulfils_once(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=3)
    body, headers = signed_event(mark_paid_quietly(session_id))
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(
            pool.map(lambda _: http.post("/api/webhooks/stripe", content=body, headers=headers), range(3))
        )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True]
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment")
    assert len(inbox(session_id)) == 1
    assert len(tickets_of(order.id)) == 3


def test_distinct_events_for_one_payment_still_fulfil_once(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    paid = mark_paid_quietly(session_id)
    for _ in range(3):  # Stripe may send several events (e.g. retries with new ids)
        body, headers = signed_event(paid)
        assert http.post("/api/webhooks/stripe", content=body, headers=headers).status_code == 200
    wait_until(lambda: [e.status for e in inbox(session_id)] == ["processed"] * 3, what="all processed")
    assert len(tickets_of(order.id)) == 2


@pytest.mark.parametrize(
    ("case", "make_headers"),
    [
        ("wrong secret", lambda obj: signed_event(obj, secret="whsec_someone_else")),
        ("stale timestamp", lambda obj: signed_event(obj, timestamp=int(time.time()) - 301)),
        ("missing header", lambda obj: (signed_event(obj)[0], {"Content-Type": "application/json"})),
    ],
)
def test_unverifiable_webhooks_get_400_and_fulfil_nothing(
    http: httpx.Client, case: str, make_headers
) -> None:  # type: ignore[no-untyped-def]
    order, session_id = start_payment(quantity=1)
    body, headers = make_headers(mark_paid_quietly(session_id))
    response = http.post("/api/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400, case
    assert response.json()["error"]["code"] == "invalid_webhook"
    rejected = [e for e in inbox() if e.status == "rejected"]
    assert len(rejected) == 1 and rejected[0].raw_body == body.decode()  # kept for operators
    time.sleep(0.5)  # give the worker every chance to (wrongly) act on it
    assert order_of(order.id).status == "awaiting_payment"
    assert tickets_of(order.id) == []


def test_a_signature_within_the_tolerance_is_accepted(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=1)
    body, headers = signed_event(mark_paid_quietly(session_id), timestamp=int(time.time()) - 250)
    assert http.post("/api/webhooks/stripe", content=body, headers=headers).status_code == 200
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment")


def test_amount_mismatch_flags_the_payment_and_issues_no_tickets(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    # The provider reports a different amount from the one the order expects.
    body, headers = signed_event(mark_paid_quietly(session_id, amount_total=100, amount_subtotal=100))
    assert http.post("/api/webhooks/stripe", content=body, headers=headers).status_code == 200
    wait_until(lambda: payment_of(order.id).status == "requires_review", what="flagged")
    assert "Amount mismatch" in (payment_of(order.id).review_reason or "")
    assert order_of(order.id).status == "awaiting_payment"
    assert tickets_of(order.id) == []


def test_events_the_pipeline_does_not_use_are_stored_and_acknowledged(http: httpx.Client) -> None:
    recorded = json.loads((FIXTURES / "event.json").read_text())  # Stripe's own example: plan.created
    body, headers = signed_event(recorded["data"]["object"], event_type=recorded["type"])
    response = http.post("/api/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200
    wait_until(
        lambda: [e.status for e in inbox() if e.event_type == "plan.created"] == ["processed"], what="ack"
    )


def test_an_event_that_cannot_be_stored_gets_a_5xx_so_stripe_retries(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, session_id = start_payment(quantity=1)
    body, headers = signed_event(mark_paid_quietly(session_id))

    async def broken_store(**_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(inbox_service, "store_webhook", broken_store)
    response = http.post("/api/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_stored"
    monkeypatch.undo()
    # Stripe's retry of the same event then succeeds.
    assert http.post("/api/webhooks/stripe", content=body, headers=headers).status_code == 200
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment after retry")
