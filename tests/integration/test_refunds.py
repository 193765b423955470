"""Refunds through each provider module, over real HTTP against the sandboxes: a paid
Stripe Checkout and a successful UnivaPay charge are refunded once however often
(or however concurrently) the same idempotency key asks; what cannot be refunded is
refused with the provider's code; PayHero's M-PESA refuses every refund."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
import stripe
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.money import Money
from payflow_app.models import SandboxObject
from payflow_app.providers import get_provider
from payflow_app.providers.base import (
    PaymentError,
    PaymentProvider,
    PaymentRequest,
    ProviderRefundStatus,
    ProviderStatus,
    RefundResult,
)
from payflow_app.settings import get_settings
from tests.integration.conftest import wait_until
from tests.integration.helpers import inbox

pytestmark = pytest.mark.timeout(90)
T = TypeVar("T")
PLN, YEN = Money(9000, "PLN"), Money(3000, "JPY")
GOOD_CARD, REJECTED_CARD, REFUND_FAILS_CARD, THREE_DS_CARD = (
    "4242424242424242",
    "4111111111111111",
    "4000000000041881",
    "4000000000003220",
)


def run(provider_id: str, call: Callable[[PaymentProvider], Awaitable[T]]) -> T:
    """``call`` with the app's provider, on a fresh event loop."""

    async def main() -> T:
        return await call(get_provider(provider_id))

    return asyncio.run(main())


def refund(
    provider_id: str, reference: str, amount: Money, key: str, reason: str = "duplicate"
) -> RefundResult:
    return run(
        provider_id,
        lambda p: p.refund_payment(reference, amount=amount, idempotency_key=key, reason=reason),
    )


def refused(provider_id: str, reference: str, amount: Money, key: str = "refund-refused") -> PaymentError:
    with pytest.raises(PaymentError) as error:
        refund(provider_id, reference, amount, key)
    return error.value


def sandbox_objects(provider: str, kind: str) -> list[dict[str, Any]]:
    with read_session() as session:
        rows = session.exec(
            select(SandboxObject).where(SandboxObject.provider == provider, SandboxObject.kind == kind)
        ).all()
    return [json.loads(row.data) for row in rows]


def request(amount: Money, token: str | None = None) -> PaymentRequest:
    public = get_settings().public_url
    return PaymentRequest(
        idempotency_key=f"pay-{amount.currency}-{token or 'stripe'}",
        amount=amount,
        description="2 × Standard",
        order_number="PF-REFUND-1",
        customer_email="ada@example.com",
        success_url=f"{public}/payments/success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{public}/payments/cancel?session_id={{CHECKOUT_SESSION_ID}}",
        token=token,
    )


# --- Stripe ----------------------------------------------------------------------------


def stripe_session(http: httpx.Client, *, paid: bool = True) -> str:
    session_id = run("stripe", lambda p: p.start_payment(request(PLN))).provider_reference
    if paid:
        card = {"card_number": GOOD_CARD, "expiry": "12 / 34", "cvc": "123", "email": "ada@example.com"}
        assert http.post(f"/sandbox/stripe/pay/{session_id}", data=card).status_code == 303
    return session_id


def stripe_client() -> stripe.StripeClient:
    """The official SDK on the sandbox; one per event loop (its HTTP client binds to one)."""
    settings = get_settings()
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},  # type: ignore[typeddict-item]
        http_client=stripe.HTTPXClient(),
    )


def test_a_paid_checkout_is_refunded_in_full(http: httpx.Client) -> None:
    session_id = stripe_session(http)
    result = refund("stripe", session_id, PLN, "refund-pay-1")
    assert result.status is ProviderRefundStatus.SUCCEEDED and result.failure_message is None
    assert result.refund_reference.startswith("re_")
    [stored] = sandbox_objects("stripe", "refund")
    assert (stored["id"], stored["amount"], stored["currency"], stored["reason"]) == (
        result.refund_reference,
        9000,
        "pln",
        "duplicate",
    )
    assert stored["metadata"]["payflow_idempotency_key"] == "refund-pay-1"

    # The session's PaymentIntent is a real object now, and its charge is refunded.
    intent = asyncio.run(stripe_client().v1.payment_intents.retrieve_async(stored["payment_intent"]))
    assert (intent.status, intent.amount_received, intent.latest_charge) == (
        "succeeded",
        9000,
        stored["charge"],
    )
    [charge] = sandbox_objects("stripe", "charge")
    assert (charge["amount_refunded"], charge["refunded"]) == (9000, True)
    wait_until(lambda: [e for e in inbox() if e.event_type == "charge.refunded"], what="charge.refunded")


def test_the_same_key_twice_is_one_stripe_refund(http: httpx.Client) -> None:
    session_id = stripe_session(http)
    first = refund("stripe", session_id, Money(4000, "PLN"), "refund-same")
    second = refund("stripe", session_id, Money(4000, "PLN"), "refund-same")
    assert first == second
    assert [r["id"] for r in sandbox_objects("stripe", "refund")] == [first.refund_reference]
    # What is left can still be refunded, under another key, but no more than that.
    assert (
        refund("stripe", session_id, Money(5000, "PLN"), "refund-rest").status
        is ProviderRefundStatus.SUCCEEDED
    )
    assert refused("stripe", session_id, Money(1, "PLN")).code == "charge_already_refunded"
    assert len(sandbox_objects("stripe", "refund")) == 2


def test_more_than_was_paid_is_refused_by_stripe(http: httpx.Client) -> None:
    session_id = stripe_session(http)
    error = refused("stripe", session_id, Money(9001, "PLN"))
    assert error.code == "amount_too_large"
    assert "90.01 zł" in error.message and "90.00 zł" in error.message
    assert refused("stripe", session_id, Money(9000, "EUR")).code == "currency_mismatch"
    assert sandbox_objects("stripe", "refund") == []
    [charge] = sandbox_objects("stripe", "charge")
    assert charge["amount_refunded"] == 0


def test_an_unpaid_or_unknown_checkout_cannot_be_refunded(http: httpx.Client) -> None:
    error = refused("stripe", stripe_session(http, paid=False), PLN)
    assert error.code == "charge_not_refundable"
    assert refused("stripe", "cs_test_missing", PLN).code == "resource_missing"
    assert sandbox_objects("stripe", "refund") == []


def test_the_stripe_sandbox_answers_refund_errors_in_stripes_shape(http: httpx.Client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        asyncio.run(stripe_client().v1.refunds.create_async({"payment_intent": "pi_missing"}))
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")

    # A PaymentIntent that never succeeded has no charge to refund.
    unpaid = {"id": "pi_unpaid", "object": "payment_intent", "status": "requires_payment_method"}
    with write_transaction() as session:
        session.add(
            SandboxObject(id="pi_unpaid", provider="stripe", kind="payment_intent", data=json.dumps(unpaid))
        )
    with pytest.raises(stripe.InvalidRequestError) as not_paid:
        asyncio.run(stripe_client().v1.refunds.create_async({"payment_intent": "pi_unpaid"}))
    assert (not_paid.value.http_status, not_paid.value.code) == (400, "charge_not_refundable")

    # One key, other parameters: Stripe's idempotency error, and no second refund.
    session_id = stripe_session(http)
    intent_id = asyncio.run(stripe_client().v1.checkout.sessions.retrieve_async(session_id)).payment_intent
    assert isinstance(intent_id, str) and intent_id.startswith("pi_")
    options: Any = {"idempotency_key": "sdk-key"}
    made = asyncio.run(
        stripe_client().v1.refunds.create_async({"payment_intent": intent_id, "amount": 100}, options)
    )
    with pytest.raises(stripe.IdempotencyError):
        asyncio.run(
            stripe_client().v1.refunds.create_async({"payment_intent": intent_id, "amount": 200}, options)
        )
    listed = asyncio.run(stripe_client().v1.refunds.list_async({"payment_intent": intent_id}))
    assert [r.id for r in listed.data] == [made.id] and made.status == "succeeded"
    # The adapter refunds what that partial refund left, and nothing more.
    assert (
        refund("stripe", session_id, Money(8900, "PLN"), "refund-left").status
        is ProviderRefundStatus.SUCCEEDED
    )
    [charge] = sandbox_objects("stripe", "charge")
    assert (charge["amount_refunded"], charge["refunded"]) == (9000, True)


# --- UnivaPay --------------------------------------------------------------------------


def univapay_charge(http: httpx.Client, card: str = GOOD_CARD) -> str:
    auth = {"Authorization": f"Bearer {get_settings().univapay_app_token}"}
    body = {
        "payment_type": "card",
        "type": "one_time",
        "email": "ada@example.com",
        "data": {"card_number": card, "exp_month": 12, "exp_year": 2034, "cvv": "123", "cardholder": "Ada"},
    }
    response = http.post("/sandbox/univapay/tokens", json=body, headers=auth)
    assert response.status_code == 201, response.text
    try:
        return run(
            "univapay", lambda p: p.start_payment(request(YEN, response.json()["id"]))
        ).provider_reference
    except PaymentError as error:  # a rejected card: the charge exists, failed
        assert error.provider_reference
        return error.provider_reference


def test_a_successful_univapay_charge_is_refunded(http: httpx.Client) -> None:
    charge_id = univapay_charge(http)
    result = refund("univapay", charge_id, YEN, "refund-card-1", reason="late_payment")
    assert result.status is ProviderRefundStatus.SUCCEEDED and result.failure_message is None
    [stored] = sandbox_objects("univapay", "refund")
    assert (stored["id"], stored["charge_id"], stored["status"], stored["amount"], stored["currency"]) == (
        result.refund_reference,
        charge_id,
        "successful",
        3000,
        "JPY",
    )
    assert (stored["reason"], stored["message"]) == ("customer_request", "late_payment")
    finished = f"refund_finished:{result.refund_reference}:successful"
    wait_until(lambda: [e for e in inbox() if e.event_id == finished], what="refund_finished")
    # The charge itself stays successful: payflow's truth about the payment is unchanged.
    assert run("univapay", lambda p: p.fetch_payment(charge_id)).status is ProviderStatus.SUCCEEDED


def test_the_same_key_twice_is_one_univapay_refund(http: httpx.Client) -> None:
    charge_id = univapay_charge(http)
    first = refund("univapay", charge_id, Money(1000, "JPY"), "refund-same")
    second = refund("univapay", charge_id, Money(1000, "JPY"), "refund-same")
    assert first == second and first.status is ProviderRefundStatus.SUCCEEDED
    assert [r["id"] for r in sandbox_objects("univapay", "refund")] == [first.refund_reference]
    assert refused("univapay", charge_id, Money(2001, "JPY")).code == "REFUND_NOT_WITHIN_BOUNDS"
    assert refused("univapay", charge_id, Money(3001, "JPY")).code == "REFUND_EXCEEDS_CHARGE_AMOUNT"
    assert (
        refund("univapay", charge_id, Money(2000, "JPY"), "refund-rest").status
        is ProviderRefundStatus.SUCCEEDED
    )
    assert len(sandbox_objects("univapay", "refund")) == 2


def test_a_card_whose_refund_fails_answers_failed(http: httpx.Client) -> None:
    charge_id = univapay_charge(http, REFUND_FAILS_CARD)
    result = refund("univapay", charge_id, YEN, "refund-fails")
    assert result.status is ProviderRefundStatus.FAILED
    assert result.failure_message == "The card refund failed (Refund failed)."
    [stored] = sandbox_objects("univapay", "refund")
    assert stored["error"]["code"] == 329 and stored["status"] == "failed"
    # A failed refund takes nothing back: the whole charge is still refundable.
    again = refund("univapay", charge_id, YEN, "refund-fails-again")
    assert again.status is ProviderRefundStatus.FAILED and again.refund_reference != result.refund_reference


def test_an_unsuccessful_univapay_charge_cannot_be_refunded(http: httpx.Client) -> None:
    for card in (REJECTED_CARD, THREE_DS_CARD):  # failed; awaiting 3-D Secure
        error = refused("univapay", univapay_charge(http, card), YEN)
        assert error.code == "CANNOT_REFUND_UNSUCCESSFUL_CHARGE"
    assert refused("univapay", "11ef0000-0000-0000-0000-00000000dead", YEN).code == "NOT_FOUND"
    assert sandbox_objects("univapay", "refund") == []


# --- PayHero and concurrency ------------------------------------------------------------


def test_payhero_refuses_every_refund(sqlite_db: str) -> None:
    error = refused("payhero", "6b71cb8b-638d-4b6e-9c7c-b0334a641e3a", Money(100_000, "KES"))
    assert error.code == "refund_unsupported"
    assert "M-PESA portal" in error.message


@pytest.mark.parametrize("provider_id", ["stripe", "univapay"])
def test_five_concurrent_refunds_with_one_key_make_one_refund(http: httpx.Client, provider_id: str) -> None:
    reference, amount = (
        (stripe_session(http), PLN) if provider_id == "stripe" else (univapay_charge(http), YEN)
    )

    async def five(provider: PaymentProvider) -> list[RefundResult]:
        calls = [
            provider.refund_payment(
                reference, amount=amount, idempotency_key="refund-race", reason="duplicate"
            )
            for _ in range(5)
        ]
        return await asyncio.wait_for(asyncio.gather(*calls), timeout=60)

    results = run(provider_id, five)
    assert len({r.refund_reference for r in results}) == 1
    assert [r["id"] for r in sandbox_objects(provider_id, "refund")] == [results[0].refund_reference]
