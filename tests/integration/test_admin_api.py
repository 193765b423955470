"""The operator endpoints over HTTP: only admins reach them (customers and organizers
are refused), "sync now" answers {synced, failed, skipped} and settles what the
provider says, a dead-lettered webhook is replayed to completion, and ``/metrics``
speaks Prometheus' text format."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import User, WebhookEvent
from payflow_app.sandbox import stripe_store
from payflow_app.services.accounts import customers
from tests.integration.conftest import wait_until
from tests.integration.helpers import order_of, payment_of, start_payment

ADMIN_ROUTES = [
    ("POST", "/api/admin/sync-orders"),
    ("POST", "/api/admin/payments/1/sync"),
    ("POST", "/api/admin/payments/1/review"),
    ("POST", "/api/admin/events/1/replay"),
    ("GET", "/api/admin/events/1"),
    ("GET", "/metrics"),
]


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=20) as client:
        yield client


def _sign_in(http: httpx.Client, email: str) -> None:
    with read_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
    http.cookies.set("payflow_session", customers.issue_session_token(user))
    http.headers["Origin"] = str(http.base_url).rstrip("/")  # as our pages send it


@pytest.mark.parametrize("email", ["customer@payflow.test", "organizer@payflow.test", None])
def test_only_operators_reach_the_console_api(http: httpx.Client, email: str | None) -> None:
    if email:
        _sign_in(http, email)
    for method, path in ADMIN_ROUTES:
        response = http.request(method, path, json={"reason": "x"})
        assert response.status_code == (403 if email else 401), path
        assert response.json()["error"]["code"] == ("forbidden" if email else "not_signed_in")


def test_sync_now_settles_a_paid_session_whose_webhook_never_came(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=1)
    # Paid at Stripe, but the webhook is lost: mark the sandbox session paid directly.
    stripe_store.update_session(session_id, status="complete", payment_status="paid")
    _sign_in(http, "admin@payflow.test")
    answer = http.post("/api/admin/sync-orders")
    assert answer.status_code == 200
    report = answer.json()
    assert set(report) == {"synced", "failed", "skipped"} and report["synced"] >= 1 and report["failed"] == 0
    assert order_of(order.id).status == "fulfilled"  # type: ignore[arg-type]
    # Asking about one payment answers its state.
    one = http.post(f"/api/admin/payments/{payment_of(order.id).id}/sync").json()  # type: ignore[arg-type]
    assert one == {"synced": True, "paymentStatus": "succeeded", "orderStatus": "fulfilled"}


def test_a_dead_lettered_webhook_is_replayed_to_completion(http: httpx.Client) -> None:
    order, session_id = start_payment(quantity=1)
    stripe_store.update_session(session_id, status="complete", payment_status="paid")
    with write_transaction() as session:  # the worker gave up on this event long ago
        event = WebhookEvent(
            provider="stripe",
            event_id="evt_dead_letter",
            event_type="checkout.session.completed",
            provider_reference=session_id,
            status="dead",
            attempts=20,
            last_error="LookupError",
            headers="{}",
            raw_body='{"id": "evt_dead_letter"}',
        )
        session.add(event)
        session.flush()
        event_id = event.id
    _sign_in(http, "admin@payflow.test")
    shown = http.get(f"/api/admin/events/{event_id}").json()
    assert shown["status"] == "dead" and '"evt_dead_letter"' in shown["rawBody"]
    assert http.post(f"/api/admin/events/{event_id}/replay").json() == {"replayed": True}
    wait_until(lambda: order_of(order.id).status == "fulfilled", what="the replayed event fulfilled")  # type: ignore[arg-type]
    # The worker marks the event processed just after the fulfilment it ran commits.
    wait_until(
        lambda: http.get(f"/api/admin/events/{event_id}").json()["status"] == "processed",
        what="the replayed event marked processed",
    )
    again = http.post("/api/admin/events/999999/replay")
    assert again.status_code == 404 and again.json()["error"]["message"]


def test_a_review_needs_a_reason(http: httpx.Client) -> None:
    order, _session_id = start_payment(quantity=1)
    payment_id = payment_of(order.id).id  # type: ignore[arg-type]
    _sign_in(http, "admin@payflow.test")
    refused = http.post(f"/api/admin/payments/{payment_id}/review", json={"reason": ""})
    assert refused.status_code == 400 and refused.json()["error"]["fields"]["reason"]
    assert payment_of(order.id).flagged_at is None  # type: ignore[arg-type]
    assert (
        http.post(f"/api/admin/payments/{payment_id}/review", json={"reason": "paid twice?"}).status_code
        == 200
    )
    assert payment_of(order.id).review_reason == "Operator: paid twice?"  # type: ignore[arg-type]


def test_metrics_in_prometheus_format_for_operators_and_the_scraper_token(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sign_in(http, "admin@payflow.test")
    text = http.get("/metrics")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    for name in (
        "payflow_webhook_processing_seconds",
        "payflow_payment_to_order_seconds",
        "payflow_sync_success_ratio",
        "payflow_manual_intervention_ratio",
        'payflow_alert{alert="webhooks_silent"}',
    ):
        assert name in text.text
    http.cookies.clear()
    monkeypatch.setenv("PAYFLOW_METRICS_TOKEN", "scrape-secret-token")
    from payflow_app.settings import reload_settings

    reload_settings()
    assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = http.get("/metrics", headers={"Authorization": "Bearer scrape-secret-token"})
    assert scraped.status_code == 200 and "payflow_sync_attempts" in scraped.text
