"""Who may call what: every route of the API table × six people — anonymous, a
customer, another customer, the event's organizer, another organizer, an admin.

The routes come from ``api_routes()`` itself, so a new route fails
``test_every_route_has_a_rule`` until it says who may use it. Each answer is checked
twice: its status is the one the rule gives that person, and its body holds no data
of someone else (the customer's email, order and ticket numbers, the other
organizer's attendee) unless that person may see it. The measured matrix is printed
(``pytest -s``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlmodel import select
from starlette.routing import Route
from starlette.testclient import TestClient

from payflow_app.api import api_routes
from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import Event, Order, Payment, TicketType, User, WebhookEvent, pk, utcnow
from tests import factories
from tests.security.inprocess import ADMIN, BASE, CUSTOMER, ORGANIZER, sign_in

OTHER_CUSTOMER, OTHER_ORGANIZER = "other-customer@payflow.test", "other-organizer@payflow.test"
PEOPLE = {
    "anonymous": None,
    "customer": CUSTOMER,
    "other customer": OTHER_CUSTOMER,
    "organizer": ORGANIZER,
    "other organizer": OTHER_ORGANIZER,
    "admin": ADMIN,
}
SIGNED_IN = tuple(p for p, email in PEOPLE.items() if email)


@dataclass
class World:
    """What the requests point at: the customer's paid order on the organizer's event,
    and an order of the other organizer's event bought by the other customer."""

    order_reference: str
    order_number: str
    ticket_number: str
    session_id: str
    payment_id: int
    payment_public_id: str
    event_id: int
    other_event_id: int
    webhook_event_id: int
    ticket_type_id: int
    # Texts of one person that must not reach another: marker → who may see it.
    secrets: dict[str, set[str]] = field(default_factory=dict)


def _user(email: str, role: str) -> None:
    with write_transaction() as session:
        session.add(User(email=email, full_name=email.split("@")[0].replace("-", " ").title(), role=role))


def _other_event() -> tuple[int, int]:
    with write_transaction() as session:
        owner = session.exec(select(User).where(User.email == OTHER_ORGANIZER)).one()
        event = Event(
            slug=f"other-{uuid.uuid4().hex[:8]}",
            title="Other Organizer's Gala",
            description="Not the demo organizer's.",
            venue="Elsewhere",
            starts_at=utcnow() + timedelta(days=20),
            currency="PLN",
            organizer_id=pk(owner),
        )
        session.add(event)
        session.flush()
        tt = TicketType(event_id=pk(event), name="Gala", price_minor=5000, capacity=10)
        session.add(tt)
        session.flush()
        return pk(event), pk(tt)


@pytest.fixture
def world(app_client: TestClient) -> World:
    _user(OTHER_CUSTOMER, "customer")
    _user(OTHER_ORGANIZER, "organizer")
    other_event_id, _ = _other_event()
    order = factories.paid_order(email=CUSTOMER)
    ticket = factories.tickets_of(order)[0]
    with read_session() as session:
        payment = session.exec(select(Payment).where(Payment.order_id == order.id)).one()
        standard = session.get(TicketType, ticket.ticket_type_id)
        assert standard is not None
    with write_transaction() as session:
        stored = WebhookEvent(
            provider="stripe",
            event_id=f"evt_{uuid.uuid4().hex}",
            event_type="checkout.session.completed",
            raw_body="{}",
            headers="{}",
            status="processed",
        )
        session.add(stored)
        session.flush()
        webhook_event_id = pk(stored)
    return World(
        order_reference=order.public_id,
        order_number=order.number,
        ticket_number=ticket.number,
        session_id=payment.provider_reference or "",
        payment_id=pk(payment),
        payment_public_id=payment.public_id or "",
        event_id=standard.event_id,
        other_event_id=other_event_id,
        webhook_event_id=webhook_event_id,
        ticket_type_id=pk(standard),
        secrets={
            CUSTOMER: {"organizer", "admin"},  # the buyer's email: attendee lists
            order.number: {"customer", "organizer", "admin"},
            ticket.number: {"customer", "organizer", "admin"},
        },
    )


@dataclass(frozen=True)
class Call:
    path: Callable[[World], str]
    expect: dict[str, set[int]]  # person → the statuses that are right for them
    body: Callable[[World], dict[str, object]] | None = None
    # A capability (the order's reference, the provider's session id): whoever holds
    # it may read that order's number and status — never the buyer's email.
    capability: bool = False


def everyone(*statuses: int) -> dict[str, set[int]]:
    return {person: set(statuses) for person in PEOPLE}


def signed_in(ok: set[int]) -> dict[str, set[int]]:
    return {"anonymous": {401}} | {person: ok for person in SIGNED_IN}


def operators(ok: set[int]) -> dict[str, set[int]]:
    return {"anonymous": {401}, "admin": ok} | {p: {403} for p in SIGNED_IN if p != "admin"}


def event_owner(ok: set[int]) -> dict[str, set[int]]:
    """The organizer's event: its owner and admins; another organizer is told it does
    not exist; customers are not organizers."""
    return {
        "anonymous": {401},
        "customer": {403},
        "other customer": {403},
        "organizer": ok,
        "other organizer": {404},
        "admin": ok,
    }


def ticket_owner(ok: set[int]) -> dict[str, set[int]]:
    return {"anonymous": {401}, "customer": ok} | {p: {404} for p in SIGNED_IN if p != "customer"}


UNSIGNED = {"anonymous", *SIGNED_IN}
# Provider callbacks answer an unsigned request 400/401 whoever sends it; device routes
# want a device's bearer token, never a person's cookie.
RULES: dict[tuple[str, str], Call] = {
    ("POST", "/api/webhooks/stripe"): Call(
        lambda w: "/api/webhooks/stripe", everyone(400, 401), lambda w: {}
    ),
    ("POST", "/api/payment/callback"): Call(
        lambda w: "/api/payment/callback", everyone(400, 401), lambda w: {}
    ),
    ("POST", "/api/payhero/callback"): Call(
        lambda w: "/api/payhero/callback", everyone(400, 401), lambda w: {}
    ),
    # Capabilities: whoever holds the provider's session id or the order's reference.
    ("GET", "/payments/check-status"): Call(
        lambda w: f"/payments/check-status?session_id={w.session_id}", everyone(200), capability=True
    ),
    ("POST", "/pay"): Call(
        lambda w: "/pay",
        signed_in({200}),
        lambda w: {"kind": "ticket_order", "ticketTypeId": w.ticket_type_id, "quantity": 1},
    ),
    # The world's payment is a Stripe one: the card (UnivaPay) routes do not know it.
    ("GET", "/payment/card"): Call(lambda w: f"/payment/card?paymentId={w.payment_public_id}", everyone(404)),
    ("POST", "/api/payment/checkout/charge"): Call(
        lambda w: "/api/payment/checkout/charge",
        everyone(404),
        lambda w: {"paymentId": w.payment_public_id, "univapayTokenId": "tok_made_up"},
    ),
    ("GET", "/api/payment/callback"): Call(
        lambda w: f"/api/payment/callback?paymentId={w.payment_public_id}", everyone(303)
    ),
    ("GET", "/api/payment/verify"): Call(
        lambda w: f"/api/payment/verify?paymentId={w.payment_public_id}", everyone(200, 404)
    ),
    ("POST", "/api/orders/direct-checkout"): Call(
        lambda w: "/api/orders/direct-checkout", everyone(400), lambda w: {"quantity": "many"}
    ),
    # Only an M-PESA order takes a prompt; the holder of a card order's reference gets 404.
    ("POST", "/api/orders/{reference}/stk-push"): Call(
        lambda w: f"/api/orders/{w.order_reference}/stk-push", everyone(404), lambda w: {}
    ),
    ("GET", "/api/orders/{reference}/status"): Call(
        lambda w: f"/api/orders/{w.order_reference}/status", everyone(200), capability=True
    ),
    ("GET", "/api/tickets/{number}/qr.png"): Call(
        lambda w: f"/api/tickets/{w.ticket_number}/qr.png", ticket_owner({200})
    ),
    ("POST", "/api/admin/sync-orders"): Call(
        lambda w: "/api/admin/sync-orders", operators({200}), lambda w: {}
    ),
    ("POST", "/api/admin/payments/{payment_id:id}/sync"): Call(
        lambda w: f"/api/admin/payments/{w.payment_id}/sync", operators({200}), lambda w: {}
    ),
    ("POST", "/api/admin/payments/{payment_id:id}/review"): Call(
        lambda w: f"/api/admin/payments/{w.payment_id}/review",
        operators({200}),
        lambda w: {"reason": "check"},
    ),
    ("POST", "/api/admin/events/{event_id:id}/replay"): Call(
        lambda w: f"/api/admin/events/{w.webhook_event_id}/replay", operators({200}), lambda w: {}
    ),
    ("GET", "/api/admin/events/{event_id:id}"): Call(
        lambda w: f"/api/admin/events/{w.webhook_event_id}", operators({200})
    ),
    ("GET", "/metrics"): Call(lambda w: "/metrics", operators({200})),
    ("GET", "/.well-known/jwks.json"): Call(lambda w: "/.well-known/jwks.json", everyone(200)),
    ("POST", "/api/checkin"): Call(
        lambda w: "/api/checkin", everyone(401), lambda w: {"code": w.ticket_number}
    ),
    ("POST", "/api/checkin/offline"): Call(
        lambda w: "/api/checkin/offline", everyone(401), lambda w: {"scans": []}
    ),
    ("GET", "/api/checkin/revocations"): Call(lambda w: "/api/checkin/revocations", everyone(401)),
    ("GET", "/api/organizer/events/{event_id:id}/attendees.csv"): Call(
        lambda w: f"/api/organizer/events/{w.event_id}/attendees.csv", event_owner({200})
    ),
    ("POST", "/api/organizer/events/{event_id:id}/devices"): Call(
        lambda w: f"/api/organizer/events/{w.event_id}/devices",
        event_owner({201}),
        lambda w: {"name": "North"},
    ),
    ("GET", "/api/event-images/{name}"): Call(lambda w: "/api/event-images/nothing.png", everyone(404)),
    # Any other /api/ path answers the JSON 404, whoever asks.
    **{
        (method, "/api/{rest:anypath}"): Call(lambda w: "/api/nothing-here", everyone(404), lambda w: {})
        for method in ("DELETE", "PATCH", "POST", "PUT")
    },
    ("GET", "/api/{rest:anypath}"): Call(lambda w: "/api/nothing-here", everyone(404)),
    # Redeeming no grant sends anyone back to log in; logging out works for anyone.
    ("GET", "/session/grant"): Call(lambda w: "/session/grant", everyone(303)),
    ("POST", "/session/logout"): Call(lambda w: "/session/logout", everyone(303), lambda w: {}),
}


def _route_keys() -> list[tuple[str, str]]:
    keys = []
    for route in api_routes():
        assert isinstance(route, Route)
        keys.extend((method, route.path) for method in sorted(route.methods or ()) if method != "HEAD")
    return keys


def test_every_route_has_a_rule() -> None:
    missing = [key for key in _route_keys() if key not in RULES]
    stale = [key for key in RULES if key not in _route_keys()]
    assert not missing, f"say who may use these routes: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


@pytest.fixture
def clients(app_client: TestClient, world: World) -> Iterator[dict[str, TestClient]]:
    """One client per person, each with its own session cookie."""
    made = {}
    for person, email in PEOPLE.items():
        client = TestClient(
            app_client.app, base_url=BASE, raise_server_exceptions=False, follow_redirects=False
        )
        client.headers["Origin"] = BASE
        if email:
            sign_in(client, email)
        made[person] = client
    yield made
    for client in made.values():
        client.close()


def test_each_person_gets_the_answer_the_rule_gives_and_no_one_elses_data(
    world: World, clients: dict[str, TestClient]
) -> None:
    matrix: dict[tuple[str, str], dict[str, int]] = {}
    wrong, leaks = [], []
    for (method, template), call in RULES.items():
        path = call.path(world)
        row = matrix.setdefault((method, template), {})
        for person, client in clients.items():
            body = call.body(world) if call.body else None
            answer = (
                client.request(method, path, json=body) if body is not None else client.request(method, path)
            )
            row[person] = answer.status_code
            if answer.status_code not in call.expect[person]:
                wrong.append(f"{method} {path} as {person}: {answer.status_code} {answer.text[:120]!r}")
            text = answer.text if not answer.headers.get("content-type", "").startswith("image/") else ""
            for marker, allowed in world.secrets.items():
                if call.capability and marker == world.order_number:
                    continue
                if marker in text and person not in allowed:
                    leaks.append(f"{method} {path} as {person} shows {marker!r}")
    width = max(len(f"{m} {p}") for m, p in matrix)
    print("\n" + " " * width + " | " + " | ".join(f"{p:>15}" for p in PEOPLE))
    for (method, template), row in matrix.items():
        print(f"{method + ' ' + template:<{width}} | " + " | ".join(f"{row[p]:>15}" for p in PEOPLE))
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)


def test_numeric_order_urls_answer_404_to_everyone(world: World, clients: dict[str, TestClient]) -> None:
    with read_session() as session:
        order = session.exec(select(Order).where(Order.number == world.order_number)).one()
    for person, client in clients.items():
        for method, path in (
            ("GET", f"/api/orders/{order.id}/status"),
            ("POST", f"/api/orders/{order.id}/stk-push"),
        ):
            answer = client.request(method, path, json={}) if method == "POST" else client.get(path)
            assert answer.status_code == 404, (person, path, answer.status_code)
            assert world.order_number not in answer.text
