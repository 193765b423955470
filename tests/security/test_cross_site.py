"""Cross-site requests against the real HTTP server: CORS answers only our origin; a
state-changing request from another site — fetch-style JSON or a plain form post, told
by its Origin or only its Referer — is refused with 403 and changes nothing, while the
same request from our own pages works; provider callbacks still arrive without any
Origin; every answer carries the security headers."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import SQLModel, func, select

from payflow_app.core.db import read_session
from payflow_app.models import CheckInDevice, Order, User, pk
from payflow_app.sandbox import stripe_store
from payflow_app.services.accounts import customers
from tests import factories
from tests.integration.conftest import wait_until
from tests.integration.helpers import mark_paid_quietly, order_of, signed_event, start_payment

FOREIGN = "https://evil.example"
ADMIN = "admin@payflow.test"
CUSTOMER = "customer@payflow.test"
ORGANIZER = "organizer@payflow.test"
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def sign_in(client: httpx.Client, email: str) -> None:
    """The session cookie our pages hold for ``email`` (the one place tests sign in)."""
    with read_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
    client.cookies.set("payflow_session", customers.issue_session_token(user))


def _count(model: type[SQLModel]) -> int:
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _refused(answer: httpx.Response) -> bool:
    return answer.status_code == 403 and answer.json()["error"]["code"] == "cross_site_request"


def _ticket_purchase() -> dict[str, object]:
    standard = factories.ticket_type("Standard").id
    return {"kind": "ticket_order", "ticketTypeId": standard, "quantity": 1, "dryRun": False}


# CORS ---------------------------------------------------------------------------


def test_a_preflight_from_another_site_is_not_allowed_and_ours_is(http: httpx.Client, server: str) -> None:
    asking = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    foreign = http.options("/pay", headers={"Origin": FOREIGN, **asking})
    assert "access-control-allow-origin" not in foreign.headers
    ours = http.options("/pay", headers={"Origin": server, **asking})
    assert ours.status_code == 200
    assert ours.headers["access-control-allow-origin"] == server
    assert ours.headers["access-control-allow-credentials"] == "true"
    # A simple request's answer does not hand another site the body either.
    read = http.get("/payments/check-status", params={"session_id": "cs_x"}, headers={"Origin": FOREIGN})
    assert "access-control-allow-origin" not in read.headers


# Refused from another site, accepted from ours -----------------------------------


def test_a_purchase_posted_from_another_site_is_refused_and_places_nothing(
    http: httpx.Client, server: str
) -> None:
    sign_in(http, CUSTOMER)
    before = _count(Order)
    attempts = [
        {"json": _ticket_purchase(), "headers": {"Origin": FOREIGN}},  # fetch() from another site
        {"json": _ticket_purchase(), "headers": {"Origin": "null"}},  # a sandboxed frame
        {"json": _ticket_purchase(), "headers": {"Referer": f"{FOREIGN}/lure"}},  # no Origin
        {"json": _ticket_purchase(), "headers": {}},  # the cookie, saying nothing of its site
        {"json": _ticket_purchase(), "headers": {"Origin": server.replace("127.0.0.1", "127.0.0.2")}},
        {"json": _ticket_purchase(), "headers": {"Origin": f"{server}.evil.example"}},
    ]
    for attempt in attempts:
        answer = http.post("/pay", **attempt)  # type: ignore[arg-type]
        assert _refused(answer), (attempt["headers"], answer.status_code, answer.text)
    assert _count(Order) == before
    placed = http.post("/pay", json=_ticket_purchase(), headers={"Origin": server})
    assert placed.status_code == 201, placed.text
    assert _count(Order) == before + 1
    from_our_page = http.post("/pay", json=_ticket_purchase(), headers={"Referer": f"{server}/events"})
    assert from_our_page.status_code == 201, from_our_page.text


def test_a_form_posted_from_another_site_to_the_admin_sync_is_refused(
    http: httpx.Client, server: str
) -> None:
    order, session_id = start_payment(quantity=1)
    stripe_store.update_session(session_id, status="complete", payment_status="paid")  # its webhook was lost
    sign_in(http, ADMIN)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    by_origin = http.post("/api/admin/sync-orders", content=b"sync=now", headers={**form, "Origin": FOREIGN})
    by_referer = http.post(
        "/api/admin/sync-orders", content=b"sync=now", headers={**form, "Referer": f"{FOREIGN}/"}
    )
    assert _refused(by_origin) and _refused(by_referer)
    assert order_of(pk(order)).status != "fulfilled"  # nothing was synced
    ours = http.post("/api/admin/sync-orders", headers={"Origin": server})
    assert ours.status_code == 200 and ours.json()["synced"] >= 1
    assert order_of(pk(order)).status == "fulfilled"


def test_an_organizer_route_refuses_another_site(http: httpx.Client, server: str) -> None:
    sign_in(http, ORGANIZER)
    event_id = factories.ticket_type("Standard").event_id
    path = f"/api/organizer/events/{event_id}/devices"
    refused = http.post(path, json={"name": "Side door"}, headers={"Origin": FOREIGN})
    refused_form = http.post(
        path, data={"name": "Side door"}, headers={"Referer": f"{FOREIGN}/x", "Origin": FOREIGN}
    )
    assert _refused(refused) and _refused(refused_form)
    assert _count(CheckInDevice) == 0
    issued = http.post(path, json={"name": "Side door"}, headers={"Origin": server})
    assert issued.status_code == 201, issued.text
    assert _count(CheckInDevice) == 1


def test_a_client_without_cookie_or_origin_reaches_the_route(http: httpx.Client) -> None:
    """A script or a server (no cookie, no Origin) gets the route's own answer."""
    answer = http.post("/pay", json=_ticket_purchase())
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "not_signed_in"


@pytest.mark.parametrize("origin", [None, FOREIGN])
def test_provider_callbacks_arrive_whatever_their_origin(http: httpx.Client, origin: str | None) -> None:
    order, session_id = start_payment(quantity=1)
    body, headers = signed_event(mark_paid_quietly(session_id))
    if origin:
        headers["Origin"] = origin
    answer = http.post("/api/webhooks/stripe", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["received"] is True
    wait_until(lambda: order_of(pk(order)).status == "fulfilled", what="fulfilment by the webhook")


# Security headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/sandbox/mailbox", 200),  # an HTML page
        ("GET", "/payments/check-status?session_id=cs_nothing", 404),  # an API answer
        ("GET", "/no/such/page", 404),
        ("POST", "/pay", 403),  # a refusal (sent from another site, below)
    ],
)
def test_every_answer_carries_the_security_headers(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    answer = http.request(method, path, headers={"Origin": FOREIGN})
    assert answer.status_code == status, answer.text
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, name
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "camera=(self)" in answer.headers["permissions-policy"]
