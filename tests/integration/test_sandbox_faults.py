"""The sandbox's fault knobs over real HTTP: callbacks the app receives late, several
times, never, or forged; status APIs that fail or stall; and the operator's page
and JSON API that set them."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from payflow_app.models import WebhookEvent
from payflow_app.providers import get_provider
from payflow_app.providers.base import PaymentError, PaymentTruth
from payflow_app.sandbox import faults
from payflow_app.sandbox.faults import Faults
from payflow_app.services.payments import inbox as inbox_service
from payflow_app.settings import get_settings
from tests.integration.conftest import wait_until
from tests.integration.helpers import inbox, order_of, pay, start_payment, tickets_of
from tests.integration.test_payhero_sandbox import answer, awaiting_mpesa
from tests.integration.test_payhero_sandbox import auth as payhero_auth
from tests.integration.test_payhero_sandbox import push as push_mpesa
from tests.integration.test_univapay_sandbox import create_token, payment_request, server_auth
from tests.integration.test_univapay_sandbox import start as start_univapay

RAILS = ("stripe", "univapay", "payhero")


def set_faults(provider: str, **knobs: Any) -> None:
    faults.save_faults(provider, Faults(**knobs))


def fetch(provider: str, reference: str) -> PaymentTruth:
    async def run() -> PaymentTruth:
        return await get_provider(provider).fetch_payment(reference)

    return asyncio.run(run())


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str | None, bool]]]:
    """(event id, duplicate) of every verified delivery the app's inbox took in."""
    seen: list[tuple[str | None, bool]] = []
    store = inbox_service.store_webhook

    async def spy(**kwargs: Any) -> inbox_service.Stored:
        stored = await store(**kwargs)
        seen.append((kwargs["event"].event_id, stored.duplicate))
        return stored

    monkeypatch.setattr(inbox_service, "store_webhook", spy)
    yield seen


def pay_by_card(http: httpx.Client, quantity: int = 1) -> tuple[int, str]:
    """A Stripe order paid on the hosted page; answers (order id, session id)."""
    order, session_id = start_payment(quantity=quantity)
    assert pay(http, session_id).status_code == 303
    return order.id, session_id  # type: ignore[return-value]


def rejected(provider: str) -> list[WebhookEvent]:
    return [e for e in inbox() if e.provider == provider and e.status == "rejected"]


# --- callbacks ---------------------------------------------------------------------------------


def test_duplicated_callbacks_reach_the_inbox_and_are_stored_and_fulfilled_once(
    http: httpx.Client, deliveries: list[tuple[str | None, bool]]
) -> None:
    set_faults("stripe", duplicates=3)
    order_id, session_id = pay_by_card(http, quantity=2)

    wait_until(lambda: len(deliveries) == 3, timeout=5, what="three deliveries")
    [event_id] = {event_id for event_id, _ in deliveries}  # one event, three times
    assert sorted(duplicate for _, duplicate in deliveries) == [False, True, True]
    wait_until(lambda: order_of(order_id).status == "fulfilled", timeout=5, what="fulfilment")
    assert [e.event_id for e in inbox(session_id)] == [event_id]
    assert len(tickets_of(order_id)) == 2


def test_reordered_duplicates_all_arrive_within_the_window_and_fulfil_once(
    http: httpx.Client, deliveries: list[tuple[str | None, bool]]
) -> None:
    set_faults("univapay", duplicates=2, reorder=True)
    charge_id = start_univapay(payment_request(create_token(http))).provider_reference

    wait_until(lambda: len(deliveries) == 2, timeout=5, what="both copies")
    assert deliveries[0][0] == deliveries[1][0] == f"charge_finished:{charge_id}:successful"
    assert len(inbox(charge_id)) == 1


def test_an_extra_delay_holds_the_callback_back(http: httpx.Client) -> None:
    set_faults("stripe", delay_seconds=0.6)
    started = time.monotonic()
    order_id, session_id = pay_by_card(http)

    time.sleep(0.3)
    assert inbox(session_id) == []
    wait_until(lambda: inbox(session_id), timeout=5, what="the late callback")
    assert time.monotonic() - started >= 0.6
    wait_until(lambda: order_of(order_id).status == "fulfilled", timeout=5, what="fulfilment")


def test_dropped_callbacks_never_arrive_until_the_knob_is_turned_off(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="payflow_app.sandbox.delivery")
    set_faults("stripe", drop_rate=1.0)
    dropped_order, dropped_session = pay_by_card(http)

    time.sleep(0.6)  # twelve times the sandbox's webhook delay
    assert inbox() == []
    assert order_of(dropped_order).status == "awaiting_payment"
    assert any("dropped" in r.getMessage() and "stripe" in r.getMessage() for r in caplog.records)

    set_faults("stripe", drop_rate=0.0)
    order_id, session_id = pay_by_card(http)
    wait_until(lambda: order_of(order_id).status == "fulfilled", timeout=5, what="fulfilment")
    assert [e.provider_reference for e in inbox()] == [session_id]  # a dropped callback stays lost
    assert inbox(dropped_session) == []


def _univapay_paid(http: httpx.Client) -> tuple[int | None, str]:
    return None, start_univapay(payment_request(create_token(http))).provider_reference


def _payhero_paid(http: httpx.Client) -> tuple[int | None, str]:
    order, reference = awaiting_mpesa()
    answer(http, reference)
    return order.id, reference


@pytest.mark.parametrize(
    ("provider", "status_reason"),
    [
        ("stripe", "signature: "),
        ("univapay", "authorization: missing or wrong Authorization header"),
        ("payhero", "authorization: missing or wrong callback token"),
    ],
)
def test_a_callback_with_a_bad_signature_is_refused_and_recorded_as_rejected(
    http: httpx.Client, provider: str, status_reason: str
) -> None:
    set_faults(provider, bad_signature=True)
    paid = {"stripe": pay_by_card, "univapay": _univapay_paid, "payhero": _payhero_paid}[provider]
    order_id, _ = paid(http)

    first = wait_until(lambda: rejected(provider), timeout=5, what="a rejected callback")
    [row] = first[:1]  # type: ignore[index]
    assert (row.rejection_reason or "").startswith(status_reason)
    assert [e for e in inbox() if e.status != "rejected"] == []
    if provider == "univapay":
        forged = faults.wrong_credential(get_settings().univapay_webhook_auth)
        assert json.loads(row.headers)["authorization"] == "[redacted]"  # even a wrong one is not kept
        assert forged not in row.headers
    if order_id is not None:
        assert order_of(order_id).status == "awaiting_payment"


# --- status APIs ----------------------------------------------------------------------------


def status_request(provider: str) -> tuple[str, dict[str, Any]]:
    """The path and client arguments of a status query for an unknown payment."""
    settings = get_settings()
    if provider == "stripe":
        headers = {"Authorization": f"Bearer {settings.stripe_secret_key}"}
        return "/sandbox/stripe/v1/checkout/sessions/cs_test_nobody", {"headers": headers}
    if provider == "univapay":
        path = f"/sandbox/univapay/stores/{settings.univapay_store_id}/charges/nobody"
        return path, {"headers": server_auth()}
    path = "/sandbox/payhero/api/v2/transaction-status"
    return path, {"params": {"reference": "nobody"}, "auth": payhero_auth()}


ERROR_BODIES = {
    "stripe": lambda body: body["error"]["type"] == "api_error",
    "univapay": lambda body: body == {"status": "error", "code": "INTERNAL_SERVER_ERROR", "errors": []},
    "payhero": lambda body: body["success"] is False and body["error_message"],
}


@pytest.mark.parametrize("provider", RAILS)
def test_a_status_error_rate_of_one_answers_500_in_the_providers_shape(
    http: httpx.Client, provider: str
) -> None:
    path, kwargs = status_request(provider)
    assert http.get(path, **kwargs).status_code == 404  # well-behaved: it looks the payment up

    set_faults(provider, status_error_rate=1.0)
    failed = http.get(path, **kwargs)

    assert failed.status_code == 500
    assert ERROR_BODIES[provider](failed.json())


@pytest.mark.parametrize("provider", RAILS)
def test_a_status_delay_makes_a_hasty_client_time_out(http: httpx.Client, provider: str) -> None:
    path, kwargs = status_request(provider)
    set_faults(provider, status_delay_seconds=0.8)

    with pytest.raises(httpx.ReadTimeout):
        http.get(path, timeout=0.3, **kwargs)
    started = time.monotonic()
    assert http.get(path, **kwargs).status_code == 404  # a patient one gets the answer
    assert time.monotonic() - started >= 0.8


@pytest.mark.parametrize("provider", RAILS)
def test_a_failing_status_api_is_a_payment_error_in_the_adapter(http: httpx.Client, provider: str) -> None:
    if provider == "stripe":
        reference = start_payment(quantity=1)[1]
    elif provider == "univapay":
        reference = _univapay_paid(http)[1]
    else:
        reference = push_mpesa()
    assert fetch(provider, reference).provider_reference == reference

    set_faults(provider, status_error_rate=1.0)
    with pytest.raises(PaymentError) as error:
        fetch(provider, reference)

    expected = "provider_unavailable"  # every rail: the caller retries
    assert error.value.code == expected and error.value.message


# --- the operator's page and JSON API ---------------------------------------------------------


def test_the_page_shows_every_rail_and_the_sandbox_pages_link_to_it(http: httpx.Client) -> None:
    set_faults("payhero", duplicates=4, reorder=True)
    page = http.get("/sandbox/faults")

    assert page.status_code == 200
    for name in ("Stripe", "UnivaPay", "PayHero M-PESA"):
        assert f"Save {name} knobs" in page.text
    assert 'id="payhero-duplicates" name="duplicates" type="number" min="1" max="10" step="1" value="4"' in (
        page.text
    )
    assert 'id="payhero-reorder" name="reorder" type="checkbox" checked' in page.text
    assert 'id="stripe-reorder" name="reorder" type="checkbox">' in page.text
    phone = http.get("/sandbox/payhero/phone/254712345678").text
    assert '<a href="/sandbox/faults">Fault knobs</a>' in phone


def test_the_form_saves_a_rails_knobs_and_redirects_back(http: httpx.Client) -> None:
    form = {k.name: "0" for k in faults.KNOBS if k.kind is not bool}
    form |= {"provider": "univapay", "duplicates": "2", "drop_rate": "0.5", "bad_signature": "on"}

    saved = http.post("/sandbox/faults", data=form)

    assert saved.status_code == 303 and saved.headers["location"] == "/sandbox/faults?saved=univapay"
    assert faults.load_faults("univapay") == Faults(duplicates=2, drop_rate=0.5, bad_signature=True)
    assert faults.load_faults("stripe") == Faults()
    assert "Saved the UnivaPay knobs." in http.get(saved.headers["location"]).text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duplicates": "11"}, "duplicates must be a whole number from 1 to 10 (got &#x27;11&#x27;)."),
        ({"drop_rate": "often"}, "drop_rate must be a number from 0 to 1 (got &#x27;often&#x27;)."),
        ({"provider": "paypal"}, "Choose one of the rails: stripe, univapay, payhero."),
    ],
)
def test_the_form_refuses_a_bad_value_and_saves_nothing(
    http: httpx.Client, changes: dict[str, str], message: str
) -> None:
    form = {k.name: "0" for k in faults.KNOBS if k.kind is not bool}
    form |= {"provider": "stripe", "duplicates": "3", "reorder": "on"} | changes

    refused = http.post("/sandbox/faults", data=form)

    assert refused.status_code == 400
    assert message in refused.text and 'role="alert"' in refused.text
    assert [faults.load_faults(p) for p in RAILS] == [Faults()] * 3
    if changes.get("provider") != "paypal":  # what was typed is kept for correcting
        assert 'id="stripe-reorder" name="reorder" type="checkbox" checked' in refused.text


def test_the_json_api_reads_and_replaces_a_rails_knobs(http: httpx.Client) -> None:
    assert http.get("/sandbox/faults/payhero").json() == Faults().to_json()

    put = http.put("/sandbox/faults/payhero", json={"drop_rate": 1, "status_delay_seconds": 0.5})

    assert put.status_code == 200
    assert put.json() == Faults(drop_rate=1.0, status_delay_seconds=0.5).to_json()
    assert http.get("/sandbox/faults/payhero").json() == put.json()
    assert faults.load_faults("payhero") == Faults(drop_rate=1.0, status_delay_seconds=0.5)


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"duplicates": 0}, 400, "invalid_faults", "duplicates must be a whole number from 1 to 10 (got 0)."),
        ({"reorder": "yes"}, 400, "invalid_faults", "reorder must be true or false (got 'yes')."),
        ({"dropRate": 1}, 400, "invalid_faults", "Unknown knob 'dropRate'; the knobs are delay_seconds"),
        ([1, 2], 400, "invalid_json", "The body must be a JSON object."),
    ],
)
def test_the_json_api_refuses_bad_knobs_and_saves_nothing(
    http: httpx.Client, body: object, status: int, code: str, message: str
) -> None:
    set_faults("stripe", duplicates=2)

    refused = http.put("/sandbox/faults/stripe", json=body)

    assert refused.status_code == status
    assert refused.json()["error"]["code"] == code
    assert refused.json()["error"]["message"].startswith(message)
    assert faults.load_faults("stripe") == Faults(duplicates=2)


def test_the_json_api_knows_only_the_three_rails(http: httpx.Client) -> None:
    for answer_ in (http.get("/sandbox/faults/paypal"), http.put("/sandbox/faults/paypal", json={})):
        assert answer_.status_code == 404 and answer_.json()["error"]["code"] == "unknown_provider"
    not_json = http.put("/sandbox/faults/stripe", content=b"drop", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 415


# --- PayHero's older control, mapped onto the knobs -----------------------------------------------


def test_payheros_withhold_control_sets_its_drop_rate_and_keeps_the_other_knobs(http: httpx.Client) -> None:
    set_faults("payhero", duplicates=2)
    on = http.post("/sandbox/payhero/controls", json={"withholdCallbacks": True})
    assert on.json() == {"withholdCallbacks": True}
    assert faults.load_faults("payhero") == Faults(duplicates=2, drop_rate=1.0)

    reference = push_mpesa()
    answer(http, reference)
    time.sleep(0.5)
    assert inbox() == []

    off = http.post("/sandbox/payhero/controls", json={"withholdCallbacks": False})
    assert off.json() == {"withholdCallbacks": False}
    assert http.get("/sandbox/payhero/controls").json() == {"withholdCallbacks": False}
    assert faults.load_faults("payhero") == Faults(duplicates=2)
    later = push_mpesa(phone="254712000999")
    answer(http, later, phone="254712000999")
    wait_until(lambda: inbox(), timeout=5, what="the callback once no longer withheld")
