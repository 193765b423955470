"""The people and data of the page-access matrix, made in the e2e app's database: a
customer with a paid ticket order on the demo organizer's event, another customer,
another organizer with an event of their own, and a session for each signed-in person.
Run by the test as ``python -m tests.e2e.page_world`` with the app's env; prints JSON."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import Event, TicketType, User, pk, utcnow
from payflow_app.services.accounts.sessions import issue_session_token
from tests import factories

DEMO = {
    "customer": "customer@payflow.test",
    "organizer": "organizer@payflow.test",
    "admin": "admin@payflow.test",
}


def _user(email: str, role: str) -> None:
    with write_transaction() as session:
        session.add(User(email=email, full_name=f"Other {role.title()}", role=role))


def main() -> None:
    suffix = uuid.uuid4().hex[:6]
    others = {
        "other customer": f"other-c-{suffix}@example.com",
        "other organizer": f"other-o-{suffix}@example.com",
    }
    _user(others["other customer"], "customer")
    _user(others["other organizer"], "organizer")
    order = factories.paid_order(email=DEMO["customer"], reference=f"cs_test_matrix_{suffix}")
    ticket = factories.tickets_of(order)[0]
    with write_transaction() as session:
        owner = session.exec(select(User).where(User.email == others["other organizer"])).one()
        event = Event(
            slug=f"other-gala-{suffix}",
            title="Other Organizer's Gala",
            description="Not the demo organizer's.",
            venue="Elsewhere",
            starts_at=utcnow() + timedelta(days=400),  # after the demo events: journeys take the first
            currency="PLN",
            organizer_id=pk(owner),
        )
        session.add(event)
        session.flush()
        session.add(TicketType(event_id=pk(event), name="Gala", price_minor=5000, capacity=10))
    with read_session() as session:
        users = {
            person: session.exec(select(User).where(User.email == email)).one()
            for person, email in (DEMO | others).items()
        }
        standard = session.get(TicketType, ticket.ticket_type_id)
        assert standard is not None
    tokens = {person: issue_session_token(user) for person, user in users.items()}
    print(
        json.dumps(
            {
                "tokens": tokens,
                "order_id": order.id,
                "order_reference": order.public_id,
                "order_number": order.number,
                "ticket_number": ticket.number,
                "buyer_email": DEMO["customer"],
                "session_id": f"cs_test_matrix_{suffix}",
                "event_id": standard.event_id,
            }
        )
    )


if __name__ == "__main__":
    main()
