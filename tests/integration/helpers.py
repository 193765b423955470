from __future__ import annotations

import asyncio
import json
import time

import httpx
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.models import Order, Payment, Ticket, TicketType, WebhookEvent
from payflow_app.sandbox import stripe_store
from payflow_app.sandbox.delivery import stripe_signature_header
from payflow_app.services.payments import attempts
from payflow_app.settings import get_settings
from tests import factories

CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "email": "ada@example.com"}


def start_payment(quantity: int = 2) -> tuple[Order, str]:
    order = factories.order(quantity=quantity)
    redirect = asyncio.run(attempts.start_order_payment(order_id=order.id))  # type: ignore[arg-type]
    payment = payment_of(order.id)  # type: ignore[arg-type]
    assert payment.provider_reference and redirect.redirect_url.endswith(payment.provider_reference)
    return order, payment.provider_reference


def pay(http: httpx.Client, session_id: str, card: str = CARD["card_number"]) -> httpx.Response:
    return http.post(f"/sandbox/stripe/pay/{session_id}", data=CARD | {"card_number": card})


def payment_of(order_id: int) -> Payment:
    with read_session() as session:
        return session.exec(select(Payment).where(Payment.order_id == order_id)).one()


def order_of(order_id: int) -> Order:
    with read_session() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order


def tickets_of(order_id: int) -> list[Ticket]:
    with read_session() as session:
        return list(session.exec(select(Ticket).where(Ticket.order_id == order_id)).all())


def reserved(ticket_type_id: int) -> int:
    with read_session() as session:
        row = session.get(TicketType, ticket_type_id)
        assert row is not None
        return row.reserved


def inbox(provider_reference: str | None = None) -> list[WebhookEvent]:
    with read_session() as session:
        query = select(WebhookEvent)
        if provider_reference is not None:
            query = query.where(WebhookEvent.provider_reference == provider_reference)
        return list(session.exec(query).all())


def mark_paid_quietly(session_id: str, **changes: object) -> dict:
    """The customer paid, but the sandbox has not sent its webhook (we send our own)."""
    paid = stripe_store.update_session(
        session_id, status="complete", payment_status="paid", payment_intent="pi_test_quiet", **changes
    )
    assert paid is not None
    return paid


def signed_event(
    obj: dict, event_type: str = "checkout.session.completed", **header: object
) -> tuple[bytes, dict]:
    event = stripe_store.make_event(event_type, obj)
    body = json.dumps(event).encode()
    secret = str(header.get("secret", get_settings().stripe_webhook_secret))
    timestamp = int(header.get("timestamp", int(time.time())))  # type: ignore[call-overload]
    signature = stripe_signature_header(body.decode(), secret, timestamp)
    return body, {"Stripe-Signature": signature, "Content-Type": "application/json"}
