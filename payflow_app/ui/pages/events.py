"""``/``: upcoming events."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import reflex as rx

from payflow_app.core import urls
from payflow_app.services.tickets.catalogue import upcoming_events
from payflow_app.ui.components.layout import page
from payflow_app.ui.session import SessionState, tr


class EventsState(rx.State):
    events: list[dict[str, str]] = []

    @rx.event
    async def load(self) -> None:
        lang = (await self.get_state(SessionState)).language()
        views = await asyncio.to_thread(upcoming_events, lang)
        self.events = [
            {k: str(v) for k, v in asdict(e).items() if k != "ticket_types"}
            | {"href": urls.event_path(e.slug)}
            for e in views
        ]


def _card(event: rx.Var) -> rx.Component:
    return rx.el.article(
        rx.el.h2(event["title"]),
        rx.el.p(event["starts_at"], " · ", event["venue"], class_name="muted"),
        rx.el.p(event["description"]),
        rx.el.p(tr("events.from"), " ", event["price_from"], class_name="price"),
        rx.el.a(tr("events.get_tickets"), href=event["href"], class_name="button"),
        class_name="card",
    )


def events_page() -> rx.Component:
    return page(
        rx.cond(
            EventsState.events.length() > 0,
            rx.el.div(rx.foreach(EventsState.events, _card), class_name="cards"),
            rx.el.p(tr("events.none"), class_name="muted"),
        ),
        title=tr("events.title"),
    )
