"""Events and ticket types as the shop shows them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.i18n import format_datetime, format_money
from payflow_app.models import Event, TicketType, pk, utcnow
from payflow_app.services.organizer import images
from payflow_app.services.tickets.seats import sale_state


@dataclass(frozen=True)
class TicketTypeView:
    id: int
    name: str
    price: str
    price_minor: int
    remaining: int
    sale: str  # on_sale | not_yet | ended (seats.sale_state)
    sales_start: str  # formatted, when it has one


@dataclass(frozen=True)
class EventView:
    slug: str
    title: str
    description: str
    venue: str
    starts_at: str
    currency: str
    price_from: str
    ticket_types: list[TicketTypeView]
    image_url: str  # empty without a picture


def _view(event: Event, types: list[TicketType], lang: str) -> EventView:
    views = [
        TicketTypeView(
            id=pk(t),
            name=t.name,
            price=format_money(t.price_minor, event.currency, lang),
            price_minor=t.price_minor,
            remaining=max(0, t.capacity - t.reserved),
            sale=sale_state(t, event_starts_at=event.starts_at),
            sales_start=format_datetime(t.sales_start_at, lang) if t.sales_start_at else "",
        )
        for t in types
    ]
    cheapest = min((t.price_minor for t in types), default=0)
    return EventView(
        slug=event.slug,
        title=event.title,
        description=event.description,
        venue=event.venue,
        starts_at=format_datetime(event.starts_at, lang),
        currency=event.currency,
        price_from=format_money(cheapest, event.currency, lang),
        ticket_types=views,
        image_url=images.url(event.image_name) if event.image_name else "",
    )


def upcoming_events(lang: str = "en") -> list[EventView]:
    with read_session() as session:
        events = session.exec(
            select(Event).where(Event.starts_at >= utcnow()).order_by(col(Event.starts_at))
        ).all()
        types = session.exec(select(TicketType).order_by(col(TicketType.price_minor))).all()
    by_event: dict[int, list[TicketType]] = {}
    for t in types:
        by_event.setdefault(t.event_id, []).append(t)
    return [_view(e, by_event.get(pk(e), []), lang) for e in events]


def event_by_slug(slug: str, lang: str = "en") -> EventView | None:
    with read_session() as session:
        event = session.exec(select(Event).where(Event.slug == slug)).first()
        if event is None:
            return None
        types = session.exec(
            select(TicketType).where(TicketType.event_id == event.id).order_by(col(TicketType.price_minor))
        ).all()
    return _view(event, list(types), lang)
