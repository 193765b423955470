"""The PayHero sandbox speaks PayHero's v2 wire format over real HTTP: the adapter
pushes STK prompts to it, the phone simulator answers them with every M-PESA
ResultCode, and its callbacks reach the app's endpoint and settle orders."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from payflow_app.core.money import Money
from payflow_app.models import Order, WebhookEvent
from payflow_app.providers import get_provider
from payflow_app.providers.base import (
    PaymentError,
    PaymentRequest,
    PaymentTruth,
    ProviderStatus,
    WebhookRejected,
)
from payflow_app.providers.payhero import PayHeroProvider
from payflow_app.sandbox.payhero import prompts, store
from payflow_app.settings import get_settings, reload_settings
from tests import factories
from tests.integration.conftest import wait_until
from tests.integration.helpers import inbox, order_of, payment_of

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "payhero"
PHONE = "254712345678"
LOW_BALANCE_PHONE = "254700000001"
API = "/sandbox/payhero/api/v2"
KES_300 = Money(30000, "KES")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def auth() -> tuple[str, str]:
    settings = get_settings()
    return settings.payhero_username, settings.payhero_password


def configure(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for key, value in settings.items():
        monkeypatch.setenv(f"PAYFLOW_{key.upper()}", value)
    reload_settings()


def push(phone: str = PHONE, amount: Money = KES_300, key: str | None = None) -> str:
    """Push an STK prompt through the adapter; answers PayHero's reference."""
    request = PaymentRequest(
        idempotency_key=key or f"pay_test_{time.monotonic_ns()}",
        amount=amount,
        description="Ticket",
        order_number="ORD-TEST",
        customer_email="ada@example.com",
        success_url="",
        cancel_url="",
        phone=phone,
        metadata={"customer_name": "Ada Lovelace"},
    )
    started = asyncio.run(get_provider("payhero").start_payment(request))
    return started.provider_reference


def status(http: httpx.Client, reference: str) -> dict[str, Any]:
    answer = http.get(f"{API}/transaction-status", params={"reference": reference}, auth=auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


def answer(
    http: httpx.Client, reference: str, action: str = "pay", pin: str = "1234", phone: str = PHONE
) -> None:
    sent = http.post(
        f"/sandbox/payhero/phone/{phone}", data={"prompt": reference, "action": action, "pin": pin}
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/sandbox/payhero/phone/{phone}"


def truth(reference: str) -> PaymentTruth:
    return asyncio.run(get_provider("payhero").fetch_payment(reference))


def callback_for(checkout_request_id: str, code: int) -> WebhookEvent:
    event_id = f"{checkout_request_id}:{code}"

    def arrived() -> WebhookEvent | None:
        return next((e for e in inbox() if e.event_id == event_id), None)

    return wait_until(arrived, timeout=5, what=f"callback {event_id}")  # type: ignore[return-value]


def post_callback(http: httpx.Client, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    token = get_settings().payhero_callback_token if token is None else token
    return http.post(f"/api/payhero/callback?token={token}", content=json.dumps(body))


def awaiting_mpesa(phone: str = PHONE) -> tuple[Order, str]:
    """A KES ticket order whose M-PESA prompt is on the phone (as the payments service
    leaves it); answers the order and PayHero's reference."""
    order = factories.order(quantity=1, type_name="Early Bird")
    key = f"pay_{order.number}_mpesa"
    reference = push(phone, Money(order.amount_minor, order.currency), key=key)
    factories.pending_payment(order, reference, provider="payhero", idempotency_key=key)
    return order, reference


# --- The STK push and every way it ends --------------------------------------------------


def test_the_right_pin_pays_and_the_app_receives_the_callback(http: httpx.Client) -> None:
    reference = push(key="pay_ORD-1_right-pin")
    queued = status(http, reference)
    assert queued["status"] == "QUEUED" and queued["third_party_reference"] == ""
    assert set(queued) == set(fixture("transaction_status_success.json"))
    assert re.fullmatch(r"ws_CO_\d{17}712345678", queued["CheckoutRequestID"])
    assert truth(reference).status is ProviderStatus.PENDING
    page = http.get("/sandbox/payhero/phone/0712 345 678").text
    assert "Enter PIN to pay KES 300 to payflow sandbox" in page
    assert "Account: pay_ORD-1_right-pin" in page and 'type="password"' in page

    answer(http, reference, pin=get_settings().sandbox_mpesa_pin)

    paid = status(http, reference)
    receipt = paid["provider_reference"]
    assert paid["status"] == "SUCCESS" and paid["third_party_reference"] == receipt
    assert re.fullmatch(r"S[A-Z0-9]{9}", receipt)
    page = http.get(f"/sandbox/payhero/phone/+{PHONE}").text
    assert "No M-PESA requests" in page
    assert f"{receipt} Confirmed. Ksh300.00 sent to payflow sandbox for account pay_ORD-1_right-pin" in page
    callback = json.loads(callback_for(paid["CheckoutRequestID"], 0).raw_body)
    assert set(callback["response"]) == set(fixture("callback_success.json")["response"])
    assert callback["status"] is True and callback["response"] | {"MerchantRequestID": "x"} == {
        "Amount": 300,
        "CheckoutRequestID": paid["CheckoutRequestID"],
        "ExternalReference": "pay_ORD-1_right-pin",
        "MerchantRequestID": "x",
        "MpesaReceiptNumber": receipt,
        "Phone": f"+{PHONE}",
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "Status": "Success",
    }
    fetched = truth(reference)
    assert (fetched.status, fetched.amount, fetched.amount_as_requested, fetched.receipt_number) == (
        ProviderStatus.SUCCEEDED,
        None,
        True,
        receipt,
    )


@pytest.mark.parametrize(
    ("phone", "action", "pin", "code", "description"),
    [
        (PHONE, "cancel", "", 1032, "Request cancelled by user"),
        (PHONE, "pay", "0000", 2001, "The initiator information is invalid."),
        (LOW_BALANCE_PHONE, "pay", "1234", 1, "The balance is insufficient for the transaction."),
    ],
    ids=["cancelled", "wrong-pin", "low-balance"],
)
def test_a_prompt_that_does_not_pay_fails_with_darajas_result_code(
    http: httpx.Client, phone: str, action: str, pin: str, code: int, description: str
) -> None:
    reference = push(phone)
    answer(http, reference, action=action, pin=pin, phone=phone)

    failed = status(http, reference)
    assert (failed["status"], failed["provider_reference"], failed["third_party_reference"]) == (
        "FAILED",
        "",
        "",
    )
    page = http.get(f"/sandbox/payhero/phone/{phone}").text
    assert "No M-PESA requests" in page and f"Failed. {description.rstrip('.')}." in page
    callback = json.loads(callback_for(failed["CheckoutRequestID"], code).raw_body)
    assert callback["status"] is False
    assert callback["response"]["Status"] == "Failed" and callback["response"]["MpesaReceiptNumber"] == ""
    assert (callback["response"]["ResultCode"], callback["response"]["ResultDesc"]) == (code, description)
    fetched = truth(reference)
    assert (fetched.status, fetched.failure_code) == (ProviderStatus.FAILED, "mpesa_failed")


def test_an_answered_prompt_cannot_be_answered_again(http: httpx.Client) -> None:
    reference = push()
    answer(http, reference, action="cancel")
    answer(http, reference, pin="1234")
    assert status(http, reference)["status"] == "FAILED"


def test_an_unanswered_prompt_times_out(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, sandbox_mpesa_prompt_timeout_seconds="1.0")
    reference = push()
    assert "Enter PIN to pay" in http.get(f"/sandbox/payhero/phone/{PHONE}").text

    checkout_request_id = status(http, reference)["CheckoutRequestID"]
    callback = json.loads(callback_for(checkout_request_id, 1037).raw_body)  # nobody read it: the timer
    assert callback["response"]["ResultDesc"] == "DS timeout user cannot be reached"
    assert status(http, reference)["status"] == "FAILED"
    answer(http, reference, pin="1234")
    assert status(http, reference)["status"] == "FAILED"


def test_a_prompt_whose_timer_was_lost_times_out_when_it_is_read(http: httpx.Client) -> None:
    # Stored without a timer, as after a restart: the status query applies the timeout.
    fields = {
        "amount": 300,
        "phone": PHONE,
        "channel_id": 911,
        "external_reference": "pay_ORD-2_restart",
        "customer_name": "",
        "callback_url": get_settings().payhero_callback_url,
    }
    stk, _ = store.push(fields, timeout_seconds=0.0)

    assert status(http, stk["reference"])["status"] == "FAILED"
    assert callback_for(stk["checkout_request_id"], 1037).provider_reference == "pay_ORD-2_restart"
    assert "No M-PESA requests" in http.get(f"/sandbox/payhero/phone/{PHONE}").text


def test_a_second_push_to_a_busy_phone_fails_at_once(http: httpx.Client) -> None:
    first = push(key="pay_ORD-3_first")
    second = push(key="pay_ORD-3_second")

    locked = status(http, second)
    assert locked["status"] == "FAILED"
    callback = json.loads(callback_for(locked["CheckoutRequestID"], 1001).raw_body)
    assert callback["response"]["ExternalReference"] == "pay_ORD-3_second"
    assert status(http, first)["status"] == "QUEUED"
    page = http.get(f"/sandbox/payhero/phone/{PHONE}").text
    assert "Account: pay_ORD-3_first" in page and "Failed. Unable to lock subscriber" in page


# --- The API's refusals --------------------------------------------------------------------


def test_wrong_credentials_are_refused(http: httpx.Client) -> None:
    refused = http.get(f"{API}/transaction-status", params={"reference": "x"}, auth=("payflow", "wrong"))
    assert refused.status_code == 401
    assert refused.json() == {"success": False, "error_message": "Unauthorized"}
    assert http.post(f"{API}/payments", json={}).status_code == 401

    wrong = PayHeroProvider(get_settings().model_copy(update={"payhero_password": "wrong"}))
    with pytest.raises(PaymentError) as error:
        asyncio.run(wrong.fetch_payment("6b71cb8b-638d-4b6e-9c7c-b0334a641e3a"))
    assert error.value.code == "unauthorized"


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": 10.5},
        {"phone_number": "+255712345678"},
        {"phone_number": None},
        {"channel_id": 912},
        {"provider": "airtel"},
    ],
)
def test_an_invalid_push_is_refused_with_400(http: httpx.Client, change: dict[str, Any]) -> None:
    body = {"amount": 300, "phone_number": "0712345678", "channel_id": 911, "provider": "m-pesa"}
    refused = http.post(f"{API}/payments", json=body | change, auth=auth())
    assert refused.status_code == 400 and refused.json()["success"] is False
    assert refused.json()["error_message"]
    assert "No M-PESA requests" in http.get(f"/sandbox/payhero/phone/{PHONE}").text


def test_the_adapter_refuses_what_m_pesa_cannot_take(server: str) -> None:
    with pytest.raises(PaymentError) as bad_phone:
        push(phone="0712345678")
    assert bad_phone.value.code == "invalid_phone"
    with pytest.raises(PaymentError) as cents:
        push(amount=Money(30050, "KES"))
    assert cents.value.code == "unsupported_amount"
    with pytest.raises(PaymentError) as zloty:
        push(amount=Money(30000, "PLN"))
    assert zloty.value.code == "unsupported_amount"
    with pytest.raises(PaymentError) as unknown:
        truth("6b71cb8b-638d-4b6e-9c7c-b0334a641e3a")
    assert unknown.value.code == "not_found"


def test_an_unreachable_payhero_is_provider_unavailable(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, payhero_api_base="http://127.0.0.1:9/api/v2")
    with pytest.raises(PaymentError) as error:
        push()
    assert error.value.code == "provider_unavailable"


# --- Callbacks at the app's endpoint -------------------------------------------------------


def test_withheld_callbacks_leave_only_the_status_query(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sandbox_payhero_withhold_callbacks="true")
    reference = push()
    answer(http, reference)

    assert status(http, reference)["status"] == "SUCCESS"
    time.sleep(0.5)  # ten times the callback delay
    assert inbox() == []


def test_a_callback_without_the_token_is_recorded_and_refused(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sandbox_payhero_withhold_callbacks="true")
    order, reference = awaiting_mpesa()
    answer(http, reference)
    body = prompts.callback_body(store.load(reference) or {})

    refused = post_callback(http, body, token="guessed")

    assert refused.status_code == 401
    [rejected] = inbox()
    assert rejected.status == "rejected" and rejected.event_id is None
    assert "callback token" in (rejected.rejection_reason or "")
    time.sleep(0.3)
    assert order_of(order.id).status == "awaiting_payment"  # type: ignore[arg-type]
    assert payment_of(order.id).status == "pending"  # type: ignore[arg-type]


def test_a_malformed_callback_is_refused_with_400(http: httpx.Client) -> None:
    refused = post_callback(http, {"forward_url": "", "response": {"CheckoutRequestID": "ws_CO_1"}})
    assert refused.status_code == 400
    [rejected] = inbox()
    assert rejected.status == "rejected" and "payload" in (rejected.rejection_reason or "")


def test_a_repeated_callback_is_stored_once(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, sandbox_payhero_withhold_callbacks="true")
    reference = push(key="pay_ORD-4_twice")
    answer(http, reference)
    body = prompts.callback_body(store.load(reference) or {})

    first, second = post_callback(http, body), post_callback(http, body)

    assert first.json() == {"received": True, "duplicate": False}
    assert second.json() == {"received": True, "duplicate": True}
    assert [e.event_id for e in inbox("pay_ORD-4_twice")] == [f"{body['response']['CheckoutRequestID']}:0"]


# --- Settlement through the inbox ----------------------------------------------------------


def test_the_right_pin_fulfils_the_order(http: httpx.Client) -> None:
    order, reference = awaiting_mpesa()
    answer(http, reference)

    wait_until(lambda: order_of(order.id).status == "fulfilled", what="fulfilled order")  # type: ignore[arg-type]
    payment = payment_of(order.id)  # type: ignore[arg-type]
    assert payment.status == "succeeded"
    assert payment.receipt_number == status(http, reference)["provider_reference"]


@pytest.mark.parametrize(
    ("action", "pin", "order_status", "payment_status", "failure_code", "message"),
    [
        ("cancel", "", "cancelled", "cancelled", "mpesa_1032", "You cancelled the M-PESA prompt."),
        ("pay", "9999", "cancelled", "failed", "mpesa_2001", "The M-PESA PIN was wrong."),
    ],
    ids=["cancelled", "wrong-pin"],
)
def test_a_prompt_that_does_not_pay_closes_the_order_with_the_reason(
    http: httpx.Client,
    action: str,
    pin: str,
    order_status: str,
    payment_status: str,
    failure_code: str,
    message: str,
) -> None:
    order, reference = awaiting_mpesa()
    answer(http, reference, action=action, pin=pin)

    wait_until(lambda: order_of(order.id).status == order_status, what=order_status)  # type: ignore[arg-type]
    payment = payment_of(order.id)  # type: ignore[arg-type]
    assert (payment.status, payment.failure_code, payment.failure_message) == (
        payment_status,
        failure_code,
        message,
    )


# --- The adapter's reading of callbacks, on recorded payloads --------------------------------


def test_the_documented_callback_parses_to_an_stk_result() -> None:
    payload = fixture("callback_success.json")
    event = get_provider("payhero").parse_webhook(json.dumps(payload).encode(), {})
    assert (event.event_id, event.event_type, event.provider_reference) == (
        "ws_CO_02012026103543427709099876:0",
        "stk_result",
        "INV-009",
    )
    payload["response"]["ResultCode"] = "1032"
    event = get_provider("payhero").parse_webhook(json.dumps(payload).encode(), {})
    assert event.event_id == "ws_CO_02012026103543427709099876:1032"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"response": "x"}',
        b'{"response": {"ExternalReference": "INV-009", "ResultCode": 0, "ResultDesc": "ok"}}',
        b'{"response": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0, "ResultDesc": "ok"}}',
        b'{"response": {"CheckoutRequestID": "ws_CO_1", "ExternalReference": "I", "ResultCode": "x", "ResultDesc": "ok"}}',
        b'{"response": {"CheckoutRequestID": "ws_CO_1", "ExternalReference": "I", "ResultCode": 0}}',
    ],
)
def test_a_callback_of_another_shape_is_rejected(body: bytes) -> None:
    with pytest.raises(WebhookRejected, match=r"^payload: "):
        get_provider("payhero").parse_webhook(body, {})


FAILED = PaymentTruth(
    "ref",
    ProviderStatus.FAILED,
    None,
    failure_code="mpesa_failed",
    failure_message="M-PESA did not complete the payment.",
)


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        (1032, ProviderStatus.CANCELLED, "You cancelled the M-PESA prompt."),
        ("1", ProviderStatus.FAILED, "Your M-PESA balance is too low for this payment."),
        (2001, ProviderStatus.FAILED, "The M-PESA PIN was wrong."),
        (1037, ProviderStatus.FAILED, "Your phone did not answer the M-PESA prompt in time."),
        (1019, ProviderStatus.FAILED, "The M-PESA request expired."),
        (1001, ProviderStatus.FAILED, "Another M-PESA payment is already in progress on this phone."),
        (1025, ProviderStatus.FAILED, "M-PESA could not send the prompt to your phone."),
        (9999, ProviderStatus.FAILED, "M-PESA could not send the prompt to your phone."),
        (17, ProviderStatus.FAILED, "M-PESA could not reach the merchant."),
        (26, ProviderStatus.FAILED, "System busy"),
    ],
)
def test_a_failed_truth_gets_m_pesas_reason(code: int | str, status: ProviderStatus, message: str) -> None:
    payload = {"response": {"ResultCode": code, "ResultDesc": "System busy"}}
    refined = get_provider("payhero").refine_truth(FAILED, payload)
    assert (refined.status, refined.failure_code, refined.failure_message) == (
        status,
        f"mpesa_{code}",
        message,
    )


def test_a_callback_never_makes_a_success() -> None:
    provider = get_provider("payhero")
    success = {"response": {"ResultCode": 0, "ResultDesc": "ok", "MpesaReceiptNumber": "SAE3YULR0Y"}}
    pending = PaymentTruth("ref", ProviderStatus.PENDING, None)
    assert provider.refine_truth(pending, success) == pending
    assert provider.refine_truth(FAILED, success) == FAILED
    paid = PaymentTruth("ref", ProviderStatus.SUCCEEDED, None, amount_as_requested=True)
    assert provider.refine_truth(paid, success).receipt_number == "SAE3YULR0Y"
