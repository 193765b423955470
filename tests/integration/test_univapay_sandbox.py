"""The UnivaPay sandbox speaks UnivaPay's wire format, and the provider module works
against it over real HTTP: tokens, charges processed asynchronously, 3-D Secure at
the issuer page, the checkout widget and webhooks into the app's inbox.

Recorded objects in ``tests/fixtures/univapay/`` come from the official Java SDK's
test resources (univapay/univapay-java-sdk, ``src/test/resources/responses/``)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.core.money import Money
from payflow_app.models import SandboxObject
from payflow_app.providers import get_provider
from payflow_app.providers.base import (
    NextAction,
    PaymentError,
    PaymentProvider,
    PaymentRequest,
    PaymentTruth,
    ProviderStatus,
    StartedPayment,
)
from payflow_app.providers.univapay import UnivaPayProvider, charge_truth
from payflow_app.settings import get_settings
from tests import factories
from tests.integration.conftest import wait_until
from tests.integration.helpers import inbox, order_of, tickets_of

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "univapay"
GOOD_CARD, REJECTED_CARD, THREE_DS_CARD = "4242424242424242", "4111111111111111", "4000000000003220"
YEN = Money(3000, "JPY")
T = TypeVar("T")


# --- helpers -----------------------------------------------------------------------


def server_auth(secret: str | None = None, jwt: str | None = None) -> dict[str, str]:
    settings = get_settings()
    return {
        "Authorization": f"Bearer {secret or settings.univapay_secret}.{jwt or settings.univapay_app_token}"
    }


def widget_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {get_settings().univapay_app_token}"}


def token_body(card: str = GOOD_CARD, **data: Any) -> dict[str, Any]:
    return {
        "payment_type": "card",
        "type": "one_time",
        "email": "ada@example.com",
        "data": {"card_number": card, "exp_month": 12, "exp_year": 2034, "cvv": "123", "cardholder": "Ada"}
        | data,
        "metadata": {},
    }


def create_token(http: httpx.Client, card: str = GOOD_CARD) -> str:
    response = http.post("/sandbox/univapay/tokens", json=token_body(card), headers=widget_auth())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def payment_request(
    token: str | None, *, amount: Money = YEN, key: str = "idem-1", return_to: str | None = None
) -> PaymentRequest:
    public = get_settings().public_url
    return PaymentRequest(
        idempotency_key=key,
        amount=amount,
        description="2 × Standard",
        order_number="PF-TEST-1",
        customer_email="ada@example.com",
        success_url=return_to or f"{public}/api/payment/callback?paymentId=pay_test",
        cancel_url=f"{public}/payment/cancel?paymentId=pay_test",
        token=token,
        metadata={"payment_id": "pay_test"},
    )


def with_provider(call: Callable[[PaymentProvider], Awaitable[T]]) -> T:
    """Run ``call`` with the app's UnivaPay provider on a fresh event loop."""

    async def run() -> T:
        return await call(get_provider("univapay"))

    return asyncio.run(run())


def start(request: PaymentRequest) -> StartedPayment:
    return with_provider(lambda provider: provider.start_payment(request))


def truth_of(charge_id: str) -> PaymentTruth:
    return with_provider(lambda provider: provider.fetch_payment(charge_id))


def sandbox_charges() -> list[dict[str, Any]]:
    with read_session() as session:
        rows = session.exec(
            select(SandboxObject).where(SandboxObject.provider == "univapay", SandboxObject.kind == "charge")
        ).all()
    return [json.loads(row.data) for row in rows]


def sandbox_tokens() -> list[SandboxObject]:
    with read_session() as session:
        return list(
            session.exec(
                select(SandboxObject).where(
                    SandboxObject.provider == "univapay", SandboxObject.kind == "token"
                )
            ).all()
        )


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- the API and the provider module ----------------------------------------------


def test_a_good_card_is_charged_at_once_in_yen(http: httpx.Client) -> None:
    started = start(payment_request(create_token(http)))
    assert (started.next_action, started.status) == (NextAction.NONE, ProviderStatus.SUCCEEDED)
    truth = truth_of(started.provider_reference)
    assert truth.status is ProviderStatus.SUCCEEDED
    assert truth.amount == Money(3000, "JPY")  # JPY has no minor unit: 3000 is ¥3,000
    assert truth.receipt_number == started.provider_reference
    [charge] = sandbox_charges()
    assert charge["metadata"] == {"payment_id": "pay_test", "order_number": "PF-TEST-1"}
    assert (charge["charged_amount"], charge["charged_currency"]) == (3000, "JPY")


def test_a_charge_is_created_pending_and_polling_waits_for_its_outcome(http: httpx.Client) -> None:
    body = {"transaction_token_id": create_token(http), "amount": 3000, "currency": "JPY", "capture": True}
    created = http.post("/sandbox/univapay/charges", json=body, headers=server_auth())
    assert created.status_code == 201
    charge = created.json()
    assert (charge["status"], charge["requested_amount"], charge["requested_currency"]) == (
        "pending",
        3000,
        "JPY",
    )
    assert charge["charged_amount"] is None and charge["mode"] == "test"
    path = f"/sandbox/univapay/stores/{charge['store_id']}/charges/{charge['id']}"
    polled = http.get(path, params={"polling": "true"}, headers=server_auth())
    assert polled.json()["status"] == "successful"
    wrong_store = path.replace(charge["store_id"], "11ef0000-0000-0000-0000-000000000000")
    assert http.get(wrong_store, headers=server_auth()).json()["code"] == "NOT_FOUND"


def test_a_rejected_card_fails_with_the_reason(http: httpx.Client) -> None:
    with pytest.raises(PaymentError) as refused:
        start(payment_request(create_token(http, REJECTED_CARD)))
    assert refused.value.code == "univapay_306"
    assert refused.value.message == "Your card was rejected."  # said once
    [charge] = sandbox_charges()
    truth = truth_of(charge["id"])
    assert (truth.status, truth.failure_code) == (ProviderStatus.FAILED, "univapay_306")


def test_3ds_card_is_sent_to_the_issuer_and_completing_it_pays(http: httpx.Client, server: str) -> None:
    token = create_token(http, THREE_DS_CARD)
    started = start(payment_request(token))
    charge_id = started.provider_reference
    assert started.next_action is NextAction.REDIRECT and started.status is ProviderStatus.PENDING
    assert started.redirect_url == f"{server}/sandbox/univapay/3ds/{charge_id}"
    assert truth_of(charge_id).status is ProviderStatus.PENDING

    page = http.get(started.redirect_url)
    assert page.status_code == 200
    assert "<h1>3-D Secure authentication</h1>" in page.text
    assert "¥3,000" in page.text and "3220" in page.text
    assert ">Complete authentication</button>" in page.text and ">Fail authentication</button>" in page.text

    back = http.post(started.redirect_url, data={"result": "complete"})
    assert back.status_code == 303
    location = back.headers["location"]
    assert location.startswith(f"{server}/api/payment/callback?paymentId=pay_test&")
    assert query_of(location) == {
        "paymentId": ["pay_test"],
        "univapayChargeId": [charge_id],
        "univapayTokenId": [token],
        "status": ["successful"],
    }
    truth = truth_of(charge_id)
    assert (truth.status, truth.amount) == (ProviderStatus.SUCCEEDED, YEN)

    # Back on the issuer page later: nothing more to do, and nothing changes.
    again = http.post(started.redirect_url, data={"result": "fail"})
    assert again.status_code == 409
    assert "This authentication is already complete" in again.text and "univapayChargeId" in again.text
    assert truth_of(charge_id).status is ProviderStatus.SUCCEEDED


def test_failing_3ds_fails_the_charge_with_the_reason(http: httpx.Client) -> None:
    started = start(payment_request(create_token(http, THREE_DS_CARD)))
    assert started.redirect_url
    back = http.post(started.redirect_url, data={"result": "fail"})
    assert back.status_code == 303 and query_of(back.headers["location"])["status"] == ["failed"]
    truth = truth_of(started.provider_reference)
    assert (truth.status, truth.failure_code) == (ProviderStatus.FAILED, "univapay_358")
    assert truth.failure_message == "3-D Secure authentication was not completed."  # said once
    assert "This authentication is already complete" in http.get(started.redirect_url).text


def test_the_same_idempotency_key_makes_one_charge(http: httpx.Client) -> None:
    request = payment_request(create_token(http), key="pay_PF-1_same")
    first, second = start(request), start(request)
    assert first.provider_reference == second.provider_reference
    assert len(sandbox_charges()) == 1
    # Without the key, a one-time token pays only once.
    body = {"transaction_token_id": request.token, "amount": 3000, "currency": "JPY"}
    reused = http.post("/sandbox/univapay/charges", json=body, headers=server_auth())
    assert reused.status_code == 400
    assert reused.json()["errors"] == [
        {"field": "transaction_token_id", "reason": "TRANSACTION_ALREADY_PROCESSED"}
    ]
    assert len(sandbox_charges()) == 1


def test_wrong_server_credentials_get_401(http: httpx.Client) -> None:
    token = create_token(http)
    body = {"transaction_token_id": token, "amount": 3000, "currency": "JPY"}
    for headers in (server_auth(secret="not-the-secret"), widget_auth(), {}):
        response = http.post("/sandbox/univapay/charges", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"status": "error", "code": "NOT_AUTHORIZED", "errors": []}
    wrong = UnivaPayProvider(get_settings().model_copy(update={"univapay_secret": "not-the-secret"}))
    with pytest.raises(PaymentError) as refused:
        asyncio.run(wrong.start_payment(payment_request(token)))
    assert refused.value.code == "NOT_AUTHORIZED"
    assert sandbox_charges() == []


def test_bad_cards_and_bad_charges_are_refused_with_field_reasons(http: httpx.Client) -> None:
    for card_data, field, reason in (
        ({"card_number": "4242424242424241"}, "data.card_number", "INVALID_CARD_NUMBER"),
        ({"exp_year": 2020}, "data.exp_year", "CARD_EXPIRED"),
        ({"cvv": "12"}, "data.cvv", "INVALID_CVV"),
    ):
        response = http.post("/sandbox/univapay/tokens", json=token_body(**card_data), headers=widget_auth())
        assert response.status_code == 400
        assert response.json() == {
            "status": "error",
            "code": "VALIDATION_ERROR",
            "errors": [{"field": field, "reason": reason}],
        }
    assert sandbox_tokens() == []

    with pytest.raises(PaymentError) as unknown:
        start(payment_request("11ef0000-0000-0000-0000-00000000dead"))
    assert unknown.value.code == "NOT_FOUND"
    with pytest.raises(PaymentError) as missing:
        start(payment_request(None))
    assert missing.value.code == "missing_token"
    body = {"transaction_token_id": create_token(http), "amount": 0, "currency": "XXX"}
    refused = http.post("/sandbox/univapay/charges", json=body, headers=server_auth())
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"field": "amount", "reason": "INVALID_AMOUNT"},
        {"field": "currency", "reason": "INVALID_CURRENCY"},
    ]
    assert sandbox_charges() == []


# --- the checkout widget -------------------------------------------------------------


def widget_url(server: str, **params: str) -> str:
    query = {
        "appId": get_settings().univapay_app_token,
        "amount": "3000",
        "currency": "JPY",
        "email": "ada@example.com",
        "action": f"{server}/payment/card",
        "cancel": f"{server}/payment/cancel?paymentId=pay_w",
        "paymentId": "pay_w",
    } | params
    return str(httpx.URL("/sandbox/univapay/widget", params=query))


def test_the_widget_shows_the_amount_and_refuses_a_wrong_app_token(http: httpx.Client, server: str) -> None:
    page = http.get(widget_url(server))
    assert page.status_code == 200
    for text in ("¥3,000", "Card number", "Expiry (MM / YY)", "CVV", "Cardholder name", "Email", ">Pay<"):
        assert text in page.text
    assert f'href="{server}/payment/cancel?paymentId=pay_w">Cancel</a>' in page.text
    assert "4000 0000 0000 3220 requires 3-D Secure" in page.text
    assert http.get(widget_url(server, appId="eyJ.forged.token")).status_code == 400


def test_the_widget_rejects_a_wrong_card_and_keeps_the_values(http: httpx.Client, server: str) -> None:
    form = {"card_number": "4242 4242 4242 4241", "expiry": "12 / 34", "cvv": "123", "cardholder": "Ada"}
    page = http.post(widget_url(server), data=form | {"email": "ada@example.com"})
    assert page.status_code == 400
    assert re.search(r'role="alert".*Your card number is invalid\.', page.text, re.S)
    assert 'value="4242 4242 4242 4241"' in page.text and 'value="Ada"' in page.text
    assert sandbox_tokens() == []


def test_the_widget_posts_a_token_back_to_the_shop(http: httpx.Client, server: str) -> None:
    form = {"card_number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvv": "123", "cardholder": "Ada"}
    page = http.post(widget_url(server), data=form | {"email": "ada@example.com"})
    assert page.status_code == 200
    assert '<body onload="document.forms[0].submit()">' in page.text
    assert f'<form method="post" action="{server}/payment/card">' in page.text
    [token] = sandbox_tokens()
    assert f'name="univapayTokenId" value="{token.id}"' in page.text
    assert 'name="paymentId" value="pay_w"' in page.text
    assert ">Continue</button>" in page.text
    card = json.loads(token.data)["data"]["card"]
    assert (card["last_four"], card["exp_month"], card["exp_year"]) == ("4242", 12, 2034)
    assert sandbox_charges() == []  # the shop charges the token, not the widget


# --- webhooks into the app --------------------------------------------------------------


def test_the_sandbox_sends_charge_finished_to_the_app_inbox(http: httpx.Client) -> None:
    charge_id = start(payment_request(create_token(http))).provider_reference
    event_id = f"charge_finished:{charge_id}:successful"
    [stored] = wait_until(lambda: [e for e in inbox(charge_id) if e.event_id == event_id], what="webhook")
    assert stored.event_type == "charge_finished"
    # The credential was checked on the live request, then redacted before storage.
    assert json.loads(stored.headers)["authorization"] == "[redacted]"
    assert get_settings().univapay_webhook_auth not in stored.headers
    assert json.loads(stored.raw_body)["data"]["status"] == "successful"

    # UnivaPay sending it again is acknowledged, and stored once.
    again = http.post(
        "/api/payment/callback",
        content=stored.raw_body,
        headers={"Authorization": get_settings().univapay_webhook_auth, "Content-Type": "application/json"},
    )
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    assert [e.event_id for e in inbox(charge_id)] == [event_id]


@pytest.mark.parametrize("authorization", ["Bearer someone-else", None])
def test_a_webhook_without_the_right_authorization_is_refused(
    http: httpx.Client, authorization: str | None
) -> None:
    order = factories.order(quantity=1)
    started = start(
        payment_request(create_token(http, THREE_DS_CARD), amount=Money(order.amount_minor, "PLN"))
    )
    factories.pending_payment(order, started.provider_reference, provider="univapay")
    charge = http.get(
        f"/sandbox/univapay/stores/{get_settings().univapay_store_id}/charges/{started.provider_reference}",
        headers=server_auth(),
    ).json()
    forged = json.dumps({"event": "charge_finished", "data": charge | {"status": "successful"}})
    headers = {"Content-Type": "application/json"} | (
        {"Authorization": authorization} if authorization else {}
    )
    response = http.post("/api/payment/callback", content=forged, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    rejected = [e for e in inbox() if e.status == "rejected"]
    assert len(rejected) == 1 and rejected[0].raw_body == forged  # kept for operators
    wait_until(lambda: inbox(started.provider_reference), what="the sandbox's own charge_updated")
    assert order_of(order.id).status == "awaiting_payment"  # type: ignore[arg-type]
    assert tickets_of(order.id) == []  # type: ignore[arg-type]


def test_the_sandbox_webhook_fulfils_the_order_after_3ds(http: httpx.Client) -> None:
    order = factories.order(quantity=2)  # 2 × 120.00 zł
    amount = Money(order.amount_minor, order.currency)
    started = start(payment_request(create_token(http, THREE_DS_CARD), amount=amount))
    factories.pending_payment(order, started.provider_reference, provider="univapay")
    assert started.redirect_url
    assert http.post(started.redirect_url, data={"result": "complete"}).status_code == 303
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilment")  # type: ignore[arg-type]
    assert len(tickets_of(order.id)) == 2  # type: ignore[arg-type]
    finished = f"charge_finished:{started.provider_reference}:successful"
    wait_until(
        lambda: (
            [e.status for e in inbox(started.provider_reference) if e.event_id == finished] == ["processed"]
        ),
        what="the charge_finished event processed",
    )


# --- recorded UnivaPay objects, without the sandbox ------------------------------------


def recorded(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def test_recorded_charges_translate_into_truths() -> None:
    awaiting = charge_truth(recorded("charge-awaiting.json"))
    assert (awaiting.status, awaiting.amount) == (ProviderStatus.PENDING, Money(100, "JPY"))
    paid = charge_truth(recorded("charge-successful.json"))
    assert (paid.status, paid.amount) == (ProviderStatus.SUCCEEDED, Money(1000, "JPY"))
    assert paid.receipt_number == "425e88b7-b588-4247-80ee-0ea0caff1190"


def recorded_univapay(handler: Callable[[httpx.Request], httpx.Response]) -> UnivaPayProvider:
    return UnivaPayProvider(get_settings(), transport=httpx.MockTransport(handler))


def test_an_issuer_asking_for_an_http_post_is_refused_clearly(sqlite_db: str) -> None:
    def univapay(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/three_ds/issuer_token"):
            return httpx.Response(200, json=recorded("issuer-token-http-post.json"))
        return httpx.Response(201, json=recorded("charge-awaiting.json"))

    with pytest.raises(PaymentError) as refused:
        asyncio.run(recorded_univapay(univapay).start_payment(payment_request("tok")))
    assert refused.value.code == "univapay_3ds_unsupported"
    assert "http_post" in refused.value.message


def test_an_unreachable_or_failing_univapay_is_provider_unavailable(sqlite_db: str) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="Service Unavailable")

    for handler in (down, broken):
        with pytest.raises(PaymentError) as failed:
            asyncio.run(recorded_univapay(handler).fetch_payment("11efdfaf-1e1d-899c-9c99-8718c995d6c0"))
        assert failed.value.code == "provider_unavailable"
        assert failed.value.message == "The card processor could not be reached; please try again."
