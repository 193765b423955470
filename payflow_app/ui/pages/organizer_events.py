"""``/organizer``: an organizer's events (sold of capacity, when, where) and the form
that creates a new one. Organizers and admins only; each organizer sees their own."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.errors import InvalidInput
from payflow_app.core.money import EXPONENTS
from payflow_app.i18n import format_datetime
from payflow_app.models import pk
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer import events as organizer
from payflow_app.ui.components.layout import form_field, notice, page
from payflow_app.ui.components.organizer import current_organizer, refusal, require_organizer


def event_form_from(data: dict[str, str]) -> organizer.EventForm:
    return organizer.EventForm(
        title=data.get("title", ""),
        description=data.get("description", ""),
        venue=data.get("venue", ""),
        starts_at=data.get("starts_at", ""),
        currency=data.get("currency", ""),
    )


def event_fields(errors: rx.Var, values: rx.Var | None = None) -> rx.Component:
    """The event's own fields; ``values`` pre-fills them when editing."""

    def value(name: str) -> rx.Var | str:
        return values[name] if values is not None else ""

    return rx.fragment(
        form_field(
            "Title", "title", rx.el.input(id="title", name="title", default_value=value("title")), errors
        ),
        form_field(
            "Description",
            "description",
            rx.el.textarea(id="description", name="description", default_value=value("description"), rows=4),
            errors,
        ),
        form_field(
            "Venue", "venue", rx.el.input(id="venue", name="venue", default_value=value("venue")), errors
        ),
        form_field(
            "Starts at (UTC)",
            "starts_at",
            rx.el.input(
                id="starts_at", name="starts_at", type="datetime-local", default_value=value("starts_at")
            ),
            errors,
        ),
        form_field(
            "Currency",
            "currency",
            rx.el.select(
                *[rx.el.option(code, value=code) for code in sorted(EXPONENTS)],
                id="currency",
                name="currency",
                default_value=value("currency") if values is not None else "PLN",
            ),
            errors,
        ),
    )


class OrganizerEventsState(rx.State):
    allowed: bool = False
    refused: bool = False
    events: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    creating: bool = False

    @rx.event
    async def load(self):
        self.errors, self.creating = {}, False
        user = await require_organizer(self)
        if not isinstance(user, SessionUser):
            self.allowed, self.refused = False, user is None
            return user
        self.allowed, self.refused = True, False
        await self._reload(user)
        return None

    async def _reload(self, user: SessionUser) -> None:
        events = await asyncio.to_thread(organizer.my_events, user)
        summaries = await asyncio.to_thread(organizer.sales_summaries, [pk(e) for e in events])
        self.events = [
            {
                "title": e.title,
                "when": format_datetime(e.starts_at),
                "venue": e.venue,
                "sold": "{} sold of {}".format(*summaries[pk(e)]),
                "href": urls.organizer_event_path(pk(e)),
                "public": urls.event_path(e.slug),
            }
            for e in events
        ]

    @rx.event
    def toggle_create(self) -> None:
        self.creating, self.errors = not self.creating, {}

    @rx.event
    async def create(self, data: dict[str, str]):
        user = await current_organizer(self)
        if user is None:
            return rx.redirect(urls.LOGIN)
        try:
            event = await asyncio.to_thread(organizer.create_event, user, event_form_from(data))
        except InvalidInput as exc:
            self.errors = exc.errors
            return None
        return rx.redirect(urls.organizer_event_path(event.id or 0, "edit") + "?created=1")


def _event_card(e: rx.Var) -> rx.Component:
    return rx.el.article(
        rx.el.h2(rx.el.a(e["title"], href=e["href"])),
        rx.el.p(e["when"], " · ", e["venue"], class_name="muted"),
        rx.el.p(e["sold"]),
        rx.el.a("Public page", href=e["public"], class_name="small"),
        class_name="card",
    )


def organizer_events_page() -> rx.Component:
    S = OrganizerEventsState
    create_form = rx.el.form(
        event_fields(S.errors),
        rx.el.button("Create event", type="submit", class_name="button"),
        on_submit=S.create,
        class_name="card",
        no_validate=True,
        aria_label="New event",
    )
    body = rx.el.div(
        rx.el.button(
            rx.cond(S.creating, "Close the form", "New event"),
            type="button",
            on_click=S.toggle_create,
            class_name="button secondary small",
        ),
        rx.cond(S.creating, create_form),
        rx.cond(
            S.events.length() > 0,
            rx.el.div(rx.foreach(S.events, _event_card), class_name="cards"),
            notice("You have no events yet: create one, then add its ticket types."),
        ),
    )
    return page(
        rx.cond(S.allowed, body, rx.cond(S.refused, refusal(), rx.el.p("Loading…", class_name="muted"))),
        title="My events",
    )
