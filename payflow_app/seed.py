"""Demo data, idempotent: ``python -m payflow_app.seed`` may run any number of times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import select

from payflow_app.core.db import write_transaction
from payflow_app.models import Event, TicketType, User, pk, utcnow
from payflow_app.services.accounts.customers import hash_password

ORGANIZER_EMAIL = "organizer@payflow.test"
# Demo accounts, one per role (README lists them). Sandbox data only.
DEMO_PASSWORD = "payflow-demo"
DEMO_USERS = (
    ("customer@payflow.test", "Demo Customer", "customer"),
    (ORGANIZER_EMAIL, "Demo Organizer", "organizer"),
    ("admin@payflow.test", "Demo Admin", "admin"),
)


@dataclass(frozen=True)
class DemoEvent:
    slug: str
    title: str
    description: str
    venue: str
    days_ahead: int
    currency: str
    types: tuple[tuple[str, int, int], ...]  # (name, price in minor units, capacity)


EVENTS = (
    DemoEvent(
        slug="warsaw-jazz-night",
        title="Warsaw Jazz Night",
        description="An evening of modern jazz on the Vistula.",
        venue="Hala Koszyki, Warsaw",
        days_ahead=30,
        currency="PLN",
        types=(("Standard", 12000, 200), ("VIP", 35000, 20)),
    ),
    DemoEvent(
        slug="nairobi-tech-summit",
        title="Nairobi Tech Summit",
        description="Two days of talks and workshops on African fintech.",
        venue="KICC, Nairobi",
        days_ahead=45,
        currency="KES",
        types=(("Regular", 300000, 500), ("Early Bird", 150000, 100)),
    ),
)


def seed() -> None:
    with write_transaction() as session:
        for email, name, role in DEMO_USERS:
            user = session.exec(select(User).where(User.email == email)).first()
            if user is None:
                session.add(User(email=email, full_name=name, role=role))
                session.flush()
            elif user.password_hash is not None:
                continue
            user = session.exec(select(User).where(User.email == email)).one()
            user.password_hash = hash_password(DEMO_PASSWORD)
        organizer = session.exec(select(User).where(User.email == ORGANIZER_EMAIL)).one()
        for spec in EVENTS:
            if session.exec(select(Event).where(Event.slug == spec.slug)).first():
                continue
            event = Event(
                slug=spec.slug,
                title=spec.title,
                description=spec.description,
                venue=spec.venue,
                starts_at=(utcnow() + timedelta(days=spec.days_ahead)).replace(
                    hour=19, minute=0, second=0, microsecond=0
                ),
                currency=spec.currency,
                organizer_id=pk(organizer),
            )
            session.add(event)
            session.flush()
            for name, price, capacity in spec.types:
                session.add(TicketType(event_id=pk(event), name=name, price_minor=price, capacity=capacity))


if __name__ == "__main__":
    seed()
    print("seeded demo data")
