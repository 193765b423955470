"""What the benchmarks need in the served app's database, and what they check in it
afterwards. The benchmarks themselves talk to the app only over HTTP; this module is
run beside it with the app's environment (``python -m tests.bench.world <command>``,
see ``tests/bench/served_world.py``) and prints JSON.

- ``setup``: an event of the demo organizer with room for every order of a run (KES,
  paid with M-PESA), registered customers (each with a session, as if signed in), the
  organizer's session, and the sandbox PayHero credentials a provider would hold.
- ``orders``: per order reference (stdin, JSON list): status, tickets, emails queued.
- ``qr``: the QR token of every valid ticket of an event (what gates scan).
- ``checkins``: check-ins of an event and how many distinct tickets they admitted.
- ``events``: webhook events stored under an event-id prefix, and how many distinct.
- ``inbox``: webhook events waiting to be processed now (the worker's backlog).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlmodel import col, func, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import (
    CheckIn,
    EmailOutbox,
    Event,
    Order,
    Ticket,
    TicketType,
    User,
    WebhookEvent,
    pk,
    utcnow,
)
from payflow_app.services.accounts.customers import hash_password
from payflow_app.services.accounts.sessions import issue_session_token
from payflow_app.settings import get_settings

TICKET_PRICE_MINOR = 150_000  # KES 1,500


def setup(customers: int) -> dict[str, Any]:
    stamp = time.monotonic_ns()
    password_hash = hash_password("bench-password")  # hashed once: the customers share it
    with write_transaction() as session:
        organizer = session.exec(select(User).where(User.email == "organizer@payflow.test")).one()
        event = Event(
            slug=f"bench-rush-{stamp}",
            title="Bench Rush Night",
            venue="Bench Arena",
            starts_at=utcnow() + timedelta(days=30),
            currency="KES",
            organizer_id=pk(organizer),
        )
        session.add(event)
        session.flush()
        ticket_type = TicketType(
            event_id=pk(event), name="Rush", price_minor=TICKET_PRICE_MINOR, capacity=1_000_000
        )
        people = [
            User(
                email=f"bench-{stamp}-{i}@example.com",
                full_name=f"Bench Buyer {i}",
                role="customer",
                password_hash=password_hash,
            )
            for i in range(customers)
        ]
        session.add_all([ticket_type, *people])
        session.flush()
        ids = {"event_id": pk(event), "ticket_type_id": pk(ticket_type)}
    with read_session() as session:
        organizer = session.exec(select(User).where(User.email == "organizer@payflow.test")).one()
        buyers = session.exec(select(User).where(col(User.email).startswith(f"bench-{stamp}-"))).all()
        sessions = [issue_session_token(user) for user in buyers]
        organizer_session = issue_session_token(organizer)
    settings = get_settings()
    return {
        **ids,
        "customer_sessions": sessions,
        "organizer_session": organizer_session,
        "payhero_username": settings.payhero_username,
        "payhero_password": settings.payhero_password,
        "payhero_callback_token": settings.payhero_callback_token,
    }


def orders(references: list[str]) -> dict[str, Any]:
    """Per order: its status, tickets issued, and each email template queued with how
    many times (the outbox's unique key makes more than one impossible; counted anyway)."""
    with read_session() as session:
        rows = session.exec(select(Order).where(col(Order.public_id).in_(references))).all()
        ids = {pk(o): o for o in rows}
        tickets = Counter(
            session.exec(select(Ticket.order_id).where(col(Ticket.order_id).in_(list(ids)))).all()
        )
        emails: dict[int, Counter[str]] = {i: Counter() for i in ids}
        for order_id, template in session.exec(
            select(EmailOutbox.order_id, EmailOutbox.template).where(col(EmailOutbox.order_id).in_(list(ids)))
        ).all():
            emails[order_id][template] += 1
    return {
        order.public_id: {
            "status": order.status,
            "quantity": order.quantity,
            "tickets": tickets[order_id],
            "emails": dict(emails[order_id]),
        }
        for order_id, order in ids.items()
    }


def qr(event_id: int) -> list[str]:
    with read_session() as session:
        found = session.exec(
            select(Ticket.qr_token)
            .join(TicketType, col(TicketType.id) == Ticket.ticket_type_id)
            .where(TicketType.event_id == event_id, Ticket.status == "valid")
        ).all()
    return [token for token in found if token]


def checkins(event_id: int) -> dict[str, int]:
    with read_session() as session:
        total = session.exec(
            select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event_id)
        ).one()
        distinct = session.exec(
            select(func.count(func.distinct(CheckIn.ticket_id))).where(CheckIn.event_id == event_id)
        ).one()
    return {"checkins": total, "tickets": distinct}


def events(prefix: str) -> dict[str, int]:
    with read_session() as session:
        matching = col(WebhookEvent.event_id).startswith(prefix)
        total = session.exec(select(func.count()).select_from(WebhookEvent).where(matching)).one()
        distinct = session.exec(
            select(func.count(func.distinct(WebhookEvent.event_id))).where(matching)
        ).one()
    return {"stored": total, "distinct": distinct}


def inbox() -> int:
    with read_session() as session:
        return session.exec(
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.status == "pending", col(WebhookEvent.next_attempt_at) <= utcnow())
        ).one()


def main(command: str, argument: str) -> None:
    if command == "setup":
        answer: Any = setup(int(argument))
    elif command == "orders":
        answer = orders(json.loads(sys.stdin.read()))
    elif command == "qr":
        answer = qr(int(argument))
    elif command == "checkins":
        answer = checkins(int(argument))
    elif command == "events":
        answer = events(argument)
    elif command == "inbox":
        answer = inbox()
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
