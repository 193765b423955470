"""The sandbox speaks Stripe's wire format: the official SDK works against it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe

from payflow_app.providers import get_provider
from payflow_app.providers.base import PaymentError, ProviderStatus
from payflow_app.settings import get_settings
from tests.integration.helpers import pay, start_payment

PARAMS = {
    "mode": "payment",
    "line_items": [
        {
            "quantity": 2,
            "price_data": {"currency": "pln", "unit_amount": 4500, "product_data": {"name": "Ticket"}},
        }
    ],
    "success_url": "http://localhost/s?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "http://localhost/c",
}


def _client(key: str | None = None) -> stripe.StripeClient:
    settings = get_settings()
    return stripe.StripeClient(
        key or settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},  # type: ignore[typeddict-item]
        http_client=stripe.HTTPXClient(),
    )


def test_sdk_creates_and_retrieves_a_session_in_stripes_shape(server: str) -> None:
    async def run() -> tuple[stripe.checkout.Session, stripe.checkout.Session]:
        client = _client()
        created = await client.v1.checkout.sessions.create_async(PARAMS)  # type: ignore[arg-type]
        return created, await client.v1.checkout.sessions.retrieve_async(created.id)

    created, fetched = asyncio.run(run())
    assert isinstance(created, stripe.checkout.Session)
    assert created.id.startswith("cs_test_") and created.id == fetched.id
    assert (created.amount_total, created.currency, created.status, created.payment_status) == (
        9000,
        "pln",
        "open",
        "unpaid",
    )
    assert created.url and created.url.endswith(f"/sandbox/stripe/pay/{created.id}")


def test_an_idempotency_key_replays_the_first_session(server: str) -> None:
    async def run() -> list[str]:
        client = _client()
        options = {"idempotency_key": "same-key"}
        return [
            (await client.v1.checkout.sessions.create_async(PARAMS, options=options)).id  # type: ignore[arg-type]
            for _ in range(2)
        ]

    first, second = asyncio.run(run())
    assert first == second


def test_bad_key_and_bad_params_get_stripes_errors(server: str) -> None:
    with pytest.raises(stripe.AuthenticationError):
        asyncio.run(_client("sk_test_wrong").v1.checkout.sessions.create_async(PARAMS))  # type: ignore[arg-type]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        asyncio.run(_client().v1.checkout.sessions.create_async(PARAMS | {"line_items": []}))  # type: ignore[arg-type]
    assert missing.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        asyncio.run(_client().v1.checkout.sessions.retrieve_async("cs_test_missing"))
    assert unknown.value.code == "resource_missing"


def test_only_open_sessions_can_be_expired(http: httpx.Client) -> None:
    _order, session_id = start_payment(quantity=1)
    pay(http, session_id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        asyncio.run(_client().v1.checkout.sessions.expire_async(session_id))
    assert refused.value.code == "checkout_session_not_open"


def test_adapter_turns_provider_errors_into_payment_errors(server: str) -> None:
    with pytest.raises(PaymentError) as error:
        asyncio.run(get_provider("stripe").fetch_payment("cs_test_missing"))
    assert error.value.code == "resource_missing"


def test_adapter_reads_the_truth_of_a_paid_session(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=2)
    pay(http, session_id)
    truth = asyncio.run(get_provider("stripe").fetch_payment(session_id))
    assert truth.status is ProviderStatus.SUCCEEDED
    assert truth.amount is not None and (truth.amount.amount, truth.amount.currency) == (
        order.amount_minor,
        "PLN",
    )
    assert truth.receipt_number and truth.receipt_number.startswith("pi_")
