"""Each bad input the fuzzing of issue 12 answered with a 500 now gets a 4xx JSON error
and changes nothing: JSON nested 50,000 deep, ids and amounts beyond 64 bits — and
beyond 32, what PostgreSQL's INTEGER columns hold — (paths, bodies, query strings), digits that pass ``str.isdigit()`` but not ``int()``, offline
scan times outside what UTC can hold, a signed Stripe event without an ``id``. And the
size limits: a large body answers 413 unread; a refused webhook keeps only the start
of its body with its size and hash, at most so many per client address."""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlmodel import col, select
from starlette.testclient import TestClient

from payflow_app.core import inputs
from payflow_app.core.db import read_session
from payflow_app.core.money import parse_amount
from payflow_app.models import Event, RejectionTally, TicketType, WebhookEvent
from payflow_app.sandbox.delivery import stripe_signature_header
from payflow_app.services.operations import metrics
from payflow_app.services.payments import inbox
from payflow_app.settings import get_settings, reload_settings
from tests.security.inprocess import (
    ADMIN,
    CUSTOMER,
    ORGANIZER,
    app_client,
    pg_app_client,
    row_counts,
    seeded_template,
    sign_in,
)

__all__ = ["app_client", "pg_app_client", "seeded_template"]  # fixtures, used by name

DEEP = b"[" * 50_000 + b"]" * 50_000
HUGE = 2**64
UNICODE_DIGITS = ("²0", "٣٠", "１０")  # superscript two, Arabic-Indic, fullwidth: isdigit() is True


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] and error["message"]
    return dict(error)


def _unchanged(client: TestClient, method: str, url: str, status: int, **kwargs: Any) -> dict[str, Any]:
    before = row_counts()
    error = _error(client.request(method, url, **kwargs), status)
    assert row_counts() == before
    return error


def _first(model: Any) -> Any:
    with read_session() as session:
        return session.exec(select(model).order_by(col(model.id))).first()


def _device_token(client: TestClient) -> str:
    sign_in(client, ORGANIZER)
    event = _first(Event)
    answer = client.post(f"/api/organizer/events/{event.id}/devices", json={"name": "North gate"})
    assert answer.status_code == 201, answer.text
    client.cookies.clear()
    return str(answer.json()["token"])


def test_json_nested_50000_deep_is_refused_by_every_json_api(app_client: TestClient) -> None:
    deep = {"content": DEEP, "headers": {"Content-Type": "application/json"}}
    token = _device_token(app_client)
    device = {"headers": {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}}
    _unchanged(app_client, "POST", "/api/orders/direct-checkout", 400, **deep)
    _unchanged(app_client, "POST", "/api/payment/checkout/charge", 400, **deep)
    _unchanged(app_client, "POST", "/api/checkin", 400, content=DEEP, **device)
    _unchanged(app_client, "POST", "/api/checkin/offline", 400, content=DEEP, **device)
    _unchanged(app_client, "PUT", "/sandbox/faults/stripe", 400, **deep)
    sign_in(app_client, CUSTOMER)
    _unchanged(app_client, "POST", "/pay", 400, **deep)
    sign_in(app_client, ADMIN)
    _unchanged(app_client, "POST", "/api/admin/payments/1/review", 400, **deep)
    sign_in(app_client, ORGANIZER)
    _unchanged(app_client, "POST", f"/api/organizer/events/{_first(Event).id}/devices", 400, **deep)


def test_deep_json_to_the_webhooks_is_refused_even_when_authenticated(app_client: TestClient) -> None:
    settings = get_settings()
    signature = stripe_signature_header(DEEP.decode(), settings.stripe_webhook_secret, _now())
    stripe = app_client.post("/api/webhooks/stripe", content=DEEP, headers={"Stripe-Signature": signature})
    univapay = app_client.post(
        "/api/payment/callback", content=DEEP, headers={"Authorization": settings.univapay_webhook_auth}
    )
    payhero = app_client.post(f"/api/payhero/callback?token={settings.payhero_callback_token}", content=DEEP)
    for answer in (stripe, univapay, payhero):
        assert _error(answer, 400)["code"] == "invalid_webhook"
    with read_session() as session:
        rejected = session.exec(select(WebhookEvent)).all()
    assert [e.status for e in rejected] == ["rejected"] * 3
    assert all("nested deeper" in (e.rejection_reason or "") for e in rejected)


def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    "path",
    [
        f"/api/admin/payments/{HUGE}/sync",
        f"/api/admin/payments/{2**63}/review",
        f"/api/admin/payments/{2**31}/review",  # PostgreSQL's INTEGER holds 32 bits
        "/api/admin/events/99999999999999999999999999/replay",
        f"/api/admin/events/{HUGE}",
        "/api/admin/events/²0",
        "/api/admin/events/-1",
        "/api/admin/events/0",
    ],
)
def test_ids_beyond_64_bits_or_not_ascii_in_paths_answer_404(app_client: TestClient, path: str) -> None:
    sign_in(app_client, ADMIN)
    method = "GET" if path.count("/") == 4 else "POST"
    assert _unchanged(app_client, method, path, 404, json={"reason": "x"})["code"] == "not_found"


def test_the_largest_id_still_reaches_the_route_and_answers_its_json_404(app_client: TestClient) -> None:
    sign_in(app_client, ADMIN)
    assert _unchanged(app_client, "GET", f"/api/admin/events/{inputs.MAX_ID}", 404)["code"] == "not_found"
    sign_in(app_client, ORGANIZER)
    _unchanged(app_client, "GET", f"/api/organizer/events/{inputs.MAX_ID}/attendees.csv", 404)


def test_an_unknown_api_path_or_method_answers_json(app_client: TestClient) -> None:
    assert _unchanged(app_client, "POST", "/api/no-such-thing", 404)["code"] == "not_found"
    assert _unchanged(app_client, "GET", "/api/admin/sync-orders", 405)["code"] == "method_not_allowed"
    assert _unchanged(app_client, "DELETE", "/api/checkin", 405)["code"] == "method_not_allowed"


@pytest.mark.parametrize("value", [2**31, 2_200_000_000, -(2**31) - 1, HUGE, 10**30, True, "1", 1.5, None])
def test_ids_and_quantities_beyond_64_bits_in_bodies_are_refused(app_client: TestClient, value: Any) -> None:
    ticket_type = _first(TicketType)
    body = {"fullName": "Ada", "email": "ada@example.com", "phone": "0712345678"}
    for field, other in (("ticketTypeId", {"quantity": 1}), ("quantity", {"ticketTypeId": ticket_type.id})):
        checkout = body | other | {field: value}
        _unchanged(app_client, "POST", "/api/orders/direct-checkout", 400, json=checkout)
    sign_in(app_client, CUSTOMER)
    pay = {"kind": "ticket_order", "ticketTypeId": value, "quantity": 1}
    _unchanged(app_client, "POST", "/pay", 400, json=pay)
    _unchanged(app_client, "POST", "/pay", 400, json={"kind": "gallery", "galleryId": value})


@pytest.mark.parametrize("type_filter", ["99999999999999999999", str(2**31), "²0", "٣", "-1"])
def test_filters_beyond_64_bits_or_in_other_digits_filter_nothing(
    app_client: TestClient, type_filter: str
) -> None:
    sign_in(app_client, ORGANIZER)
    url = f"/api/organizer/events/{_first(Event).id}/attendees.csv"
    answer = app_client.get(url, params={"type": type_filter, "q": "x" * 5000})
    assert answer.status_code == 200
    assert answer.text.splitlines()[0].replace('"', "").startswith("ticket_number")


@pytest.mark.parametrize("amount", [*UNICODE_DIGITS, "1" * 30, "5.²", "9" * 5000])
def test_top_up_amounts_in_other_digits_or_beyond_64_bits_are_refused(
    app_client: TestClient, amount: str
) -> None:
    sign_in(app_client, CUSTOMER)
    body = {"kind": "wallet_topup", "amount": amount, "currency": "PLN", "dryRun": False}
    _unchanged(app_client, "POST", "/pay", 400, json=body)


@pytest.mark.parametrize("typed", UNICODE_DIGITS)
def test_parse_amount_refuses_other_digits_with_a_clear_message(typed: str) -> None:
    with pytest.raises(ValueError, match="digits 0-9"):
        parse_amount(typed, "PLN")


@pytest.mark.parametrize(
    "scanned_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01", "9" * 5000, 10**30, None],
)
def test_offline_scan_times_outside_utc_are_refused(app_client: TestClient, scanned_at: Any) -> None:
    token = _device_token(app_client)
    scan = {"nonce": "n" * 16, "code": "TKT-1-ABC", "scanned_at": scanned_at}
    error = _unchanged(
        app_client,
        "POST",
        "/api/checkin/offline",
        400,
        json={"scans": [scan]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert error["code"] == "invalid_input"


def _signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    signature = stripe_signature_header(body.decode(), get_settings().stripe_webhook_secret, _now())
    return body, {"Stripe-Signature": signature, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    "event",
    [
        {"object": "event", "type": "checkout.session.completed", "data": {"object": {}}},
        {"id": 12, "object": "event", "type": "checkout.session.completed", "data": {}},
        {"id": "evt_1", "object": "event", "data": {"object": {"object": "checkout.session"}}},
        {"id": "evt_2", "type": "x", "data": {"object": {"object": "checkout.session", "id": [1]}}},
        {"id": "evt_" + "x" * 300, "object": "event", "type": "ping", "data": {"object": {}}},
    ],
)
def test_a_validly_signed_stripe_event_that_is_not_one_is_refused(
    app_client: TestClient, event: dict[str, Any]
) -> None:
    body, headers = _signed(event)
    assert _error(app_client.post("/api/webhooks/stripe", content=body, headers=headers), 400)
    with read_session() as session:
        stored = session.exec(select(WebhookEvent)).one()
    assert stored.status == "rejected" and stored.event_id is None
    assert stored.rejection_reason and stored.rejection_reason.startswith("payload:")


def test_a_json_api_body_over_the_limit_answers_413_unread(app_client: TestClient) -> None:
    big = json.dumps({"fullName": "x" * (get_settings().max_body_bytes + 1)})
    error = _unchanged(
        app_client,
        "POST",
        "/api/orders/direct-checkout",
        413,
        content=big,
        headers={"Content-Type": "application/json"},
    )
    assert error["code"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        yield b'{"fullName": "'
        for _ in range(400):
            yield b"x" * 1024

    _unchanged(
        app_client,
        "POST",
        "/api/orders/direct-checkout",
        413,
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )


def test_a_5_mb_webhook_is_refused_and_only_its_start_is_kept(app_client: TestClient) -> None:
    body = b'{"id": "evt_big", "padding": "' + b"A" * 5_000_000 + b'"}'
    answer = app_client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=x"})
    assert _error(answer, 413)["code"] == "body_too_large"
    with read_session() as session:
        stored = session.exec(select(WebhookEvent)).one()
    assert stored.status == "rejected" and stored.body_size == len(body)
    assert stored.raw_body == body[: get_settings().rejected_body_keep_bytes].decode()
    assert stored.body_sha256 is None  # never read whole, so never hashed
    assert stored.source == "testclient"


def test_a_refused_webhook_keeps_its_start_size_and_hash(app_client: TestClient) -> None:
    body = json.dumps({"id": "evt_x", "padding": "B" * 20_000}).encode()
    answer = app_client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=x"})
    assert _error(answer, 400)["code"] == "invalid_webhook"
    with read_session() as session:
        stored = session.exec(select(WebhookEvent)).one()
    assert len(stored.raw_body) == 4096 and body.decode().startswith(stored.raw_body)
    assert stored.body_size == len(body) and stored.body_sha256 == hashlib.sha256(body).hexdigest()


def test_one_source_stores_at_most_so_many_refused_webhooks(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYFLOW_REJECTIONS_PER_SOURCE", "3")
    reload_settings()
    for i in range(7):
        answer = app_client.post("/api/webhooks/stripe", content=f'{{"n": {i}}}'.encode())
        assert _error(answer, 400)["code"] == "invalid_webhook"  # refused every time
        univapay = app_client.post("/api/payment/callback", content=b"{}")  # the same source
        assert _error(univapay, 401)["code"] == "unauthorized"
    with read_session() as session:
        stored = session.exec(select(WebhookEvent)).all()
        tally = session.exec(select(RejectionTally)).one()
    assert len(stored) == 3
    assert (tally.source, tally.stored, tally.dropped) == ("testclient", 3, 11)
    assert metrics.snapshot().rejections_not_stored == 11  # operators see what was not kept


def test_the_sandbox_form_parser_refuses_keys_that_do_not_fit(app_client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {get_settings().stripe_secret_key}"}
    for form in (
        {"line_items[99999999999][price_data][unit_amount]": "1"},
        {"line_items[0]": "x", "line_items[0][price_data][currency]": "pln"},
        {"line_items[²]": "x"},
    ):
        answer = app_client.post("/sandbox/stripe/v1/checkout/sessions", data=form, headers=auth)
        assert answer.status_code == 400, answer.text


def test_the_cap_holds_under_concurrent_rejections(any_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_REJECTIONS_PER_SOURCE", "5")
    reload_settings()

    def refused(i: int) -> int | None:
        return inbox.record_rejection(
            provider="stripe", reason="signature", headers={}, body=b"x" * i, source="203.0.113.9"
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        stored = [row for row in pool.map(refused, range(20)) if row is not None]
    with read_session() as session:
        tally = session.exec(select(RejectionTally)).one()
        rows = session.exec(select(WebhookEvent)).all()
    assert len(stored) == len(rows) == 5
    assert (tally.stored, tally.dropped) == (5, 15)


def test_the_card_widgets_form_post_is_limited_too(app_client: TestClient) -> None:
    big = {"paymentId": "pay_x", "univapayTokenId": "t" * (get_settings().max_body_bytes + 1)}
    assert (
        _unchanged(app_client, "POST", "/api/payment/checkout/charge", 413, data=big)["code"]
        == "body_too_large"
    )
    many = "&".join(f"f{i}=1" for i in range(500))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    _unchanged(app_client, "POST", "/api/payment/checkout/charge", 400, content=many, headers=form)


def test_ids_beyond_32_bits_are_refused_before_postgresql_sees_them(pg_app_client: TestClient) -> None:
    body = {"fullName": "Ada", "email": "ada@example.com", "phone": "0712345678", "quantity": 1}
    checkout = body | {"ticketTypeId": 2_200_000_000}
    _unchanged(pg_app_client, "POST", "/api/orders/direct-checkout", 400, json=checkout)
    sign_in(pg_app_client, ADMIN)
    _unchanged(pg_app_client, "GET", f"/api/admin/events/{2**31}", 404)
    assert _unchanged(pg_app_client, "GET", f"/api/admin/events/{2**31 - 1}", 404)["code"] == "not_found"


def test_paying_for_a_gallery_that_does_not_exist_is_a_404(app_client: TestClient) -> None:
    """Found by the fuzz: a gallery id naming no row crashed the row lock (500)."""
    sign_in(app_client, CUSTOMER)
    before = row_counts()
    for gallery_id in (0, 999_999):
        answer = app_client.post("/pay", json={"kind": "gallery", "galleryId": gallery_id, "dryRun": False})
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert row_counts() == before


@pytest.fixture(params=["sqlite", "postgres"])
def any_app_client(request: pytest.FixtureRequest) -> TestClient:
    """The in-process app on SQLite, then on PostgreSQL (whose text columns hold no NUL)."""
    return request.getfixturevalue("app_client" if request.param == "sqlite" else "pg_app_client")


@pytest.mark.parametrize(
    "body",
    [
        # A raw NUL byte: invalid JSON, so refused — and the refusal must be storable.
        b'{"id": "evt_nul", "object": "event", "type": "ping", "data": {"object": {}}, "x": "a\x00b"}',
        # An escaped one is valid JSON, but no provider's id holds a NUL.
        json.dumps({"id": "evt_\x00", "object": "event", "type": "ping", "data": {"object": {}}}).encode(),
    ],
    ids=["raw", "escaped"],
)
def test_a_signed_webhook_with_a_nul_is_refused_with_a_4xx_on_both_databases(
    any_app_client: TestClient, body: bytes
) -> None:
    """PostgreSQL refuses a NUL in a text column: such a body once got a 5xx, which
    the provider retries for ever. It is refused, kept (NUL replaced) for operators."""
    signature = stripe_signature_header(body.decode(), get_settings().stripe_webhook_secret, _now())
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    before = row_counts()
    for _ in range(2):  # a provider's retry gets the same answer
        error = _error(any_app_client.post("/api/webhooks/stripe", content=body, headers=headers), 400)
        assert error["code"] == "invalid_webhook" and error["message"].startswith("payload:")
    after = row_counts()
    bookkeeping = {"webhook_event", "rejection_tally"}  # the refusal's record, nothing else
    assert {k: v for k, v in after.items() if k not in bookkeeping} == {
        k: v for k, v in before.items() if k not in bookkeeping
    }
    with read_session() as session:
        stored = session.exec(select(WebhookEvent)).all()
    assert [(e.status, e.event_id) for e in stored] == [("rejected", None)] * 2
    assert all("\x00" not in e.raw_body and e.body_sha256 == hashlib.sha256(body).hexdigest() for e in stored)
