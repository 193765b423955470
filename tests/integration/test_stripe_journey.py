"""The ticket journey over real HTTP: sandbox pay page → signed webhook → inbox →
worker → one fulfilment; landing verification; cancel; expiry."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from payflow_app.core.db import write_transaction
from payflow_app.models import SandboxObject, pk, utcnow
from payflow_app.providers.base import PaymentError
from payflow_app.sandbox import stripe_store
from payflow_app.services.payments import attempts
from tests import factories
from tests.integration.conftest import wait_until
from tests.integration.helpers import (
    inbox,
    order_of,
    pay,
    payment_of,
    reserved,
    start_payment,
    tickets_of,
)


def test_paying_on_the_pay_page_fulfils_through_the_webhook(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    assert payment_of(order.id).status == "pending"
    assert order_of(order.id).status == "awaiting_payment"

    response = pay(http, session_id)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/payments/success?session_id={session_id}")

    wait_until(lambda: order_of(order.id).status == "fulfilled", what="webhook fulfilment")
    assert payment_of(order.id).status == "succeeded"
    assert len(tickets_of(order.id)) == 2
    # The worker marks the event processed just after the fulfilment it ran commits.
    wait_until(lambda: [e.status for e in inbox(session_id)] == ["processed"], what="the event processed")
    assert [e.event_type for e in inbox(session_id)] == ["checkout.session.completed"]


def test_declined_cards_show_the_reason_and_another_card_can_pay(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=1)
    declined = pay(http, session_id, "4000 0000 0000 0002")
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    broke = pay(http, session_id, "4000 0000 0000 9995")
    assert broke.status_code == 402 and "Your card has insufficient funds." in broke.text
    invalid = pay(http, session_id, "1234 5678 9012 3456")
    assert "Your card number is invalid." in invalid.text
    assert order_of(order.id).status == "awaiting_payment"

    assert pay(http, session_id).status_code == 303
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment after retry")


def test_landing_verification_fulfils_and_the_webhook_then_finds_it_done(
    http: httpx.Client, monkeypatch: object
) -> None:
    order, session_id = start_payment(quantity=3)
    pay(http, session_id)
    payment = payment_of(order.id)
    # The landing page's path: ask the provider, run the same fulfilment.
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    assert order_of(order.id).status == "fulfilled"
    numbers = sorted(t.number for t in tickets_of(order.id))
    wait_until(lambda: [e.status for e in inbox(session_id)] == ["processed"], what="webhook processed")
    assert sorted(t.number for t in tickets_of(order.id)) == numbers


def test_check_status_answers_api_clients(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=1)
    before = http.get("/payments/check-status", params={"session_id": session_id}).json()
    assert before == {
        "sessionId": session_id,
        "isProcessed": False,
        "paymentStatus": "pending",
        "transactionStatus": "awaiting_payment",
        "paymentType": "ticket_order",
    }
    pay(http, session_id)
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment")
    after = http.get("/payments/check-status", params={"session_id": session_id}).json()
    assert (after["isProcessed"], after["paymentStatus"], after["transactionStatus"]) == (
        True,
        "succeeded",
        "fulfilled",
    )

    unknown = http.get("/payments/check-status", params={"session_id": "cs_test_nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "session_not_found"
    missing = http.get("/payments/check-status")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_session_id"


def test_customer_cancel_expires_the_session_and_frees_the_seats(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    held = reserved(order.ticket_type_id)
    payment = asyncio.run(attempts.cancel_by_customer(provider="stripe", reference=session_id))
    assert payment.status == "cancelled"
    assert order_of(order.id).status == "cancelled"
    assert reserved(order.ticket_type_id) == held - 2
    session = stripe_store.load(session_id, "checkout.session")
    assert session is not None and session["status"] == "expired"
    # The pay page no longer takes money for it.
    assert pay(http, session_id).status_code == 409
    # Stripe's checkout.session.expired arrives and changes nothing.
    wait_until(lambda: [e.status for e in inbox(session_id)] == ["processed"], what="expired event")
    assert (payment_of(order.id).status, order_of(order.id).status) == ("cancelled", "cancelled")
    # Cancelling again is harmless.
    again = asyncio.run(attempts.cancel_by_customer(provider="stripe", reference=session_id))
    assert again.status == "cancelled" and reserved(order.ticket_type_id) == held - 2


def test_cancel_after_paying_keeps_the_paid_order(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=1)
    pay(http, session_id)
    payment = asyncio.run(attempts.cancel_by_customer(provider="stripe", reference=session_id))
    assert payment.status == "succeeded"
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment")


def test_an_abandoned_session_expires_and_releases_its_seats(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    held = reserved(order.ticket_type_id)
    with write_transaction() as session:
        row = session.get(SandboxObject, session_id)
        assert row is not None
        row.expires_at = utcnow()
    wait_until(lambda: order_of(order.id).status == "expired", what="expiry via webhook")
    assert payment_of(order.id).status == "expired"
    assert reserved(order.ticket_type_id) == held - 2


def test_a_provider_refusal_closes_the_attempt_and_frees_the_seats(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payflow_app.sandbox import stripe_api

    monkeypatch.setattr(stripe_api, "authorized", lambda _request: False)  # e.g. a revoked key
    order = factories.order(quantity=2)
    held = reserved(order.ticket_type_id)
    with pytest.raises(PaymentError) as refused:
        asyncio.run(attempts.start_order_payment(order_id=pk(order)))
    assert refused.value.code == "api_key_invalid"
    assert "Invalid API Key" in refused.value.message
    payment = payment_of(pk(order))
    assert (payment.status, payment.failure_code) == ("failed", "api_key_invalid")
    assert order_of(pk(order)).status == "cancelled"
    assert reserved(order.ticket_type_id) == held - 2
