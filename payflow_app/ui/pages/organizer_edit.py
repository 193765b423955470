"""``/organizer/events/<id>/edit``: the event's details and picture, and its ticket
types (name, price, capacity, sale window). Edits that would break tickets already
sold — capacity below what is sold or held, another currency after sales — are
refused with the reason. The organizer's own events only."""

from __future__ import annotations

import asyncio
from datetime import datetime

import reflex as rx

from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.core.money import amount_text, format_money
from payflow_app.i18n import format_datetime
from payflow_app.models import Event, TicketType, pk
from payflow_app.services.organizer import events, images
from payflow_app.ui.components.layout import form_field, labelled_file_input, notice, page
from payflow_app.ui.components.organizer import (
    acting_on_event,
    event_gone,
    event_tabs,
    guarded,
    open_event,
)
from payflow_app.ui.components.table import scroll_table
from payflow_app.ui.pages.organizer_events import event_fields, event_form_from

IMAGE_TYPES = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"]}


def _local(moment: datetime | None) -> str:
    """A datetime-local input's value (UTC): ``2026-12-01T19:00``."""
    return moment.strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


class EventEditState(rx.State):
    allowed: bool = False
    refused: bool = False
    missing: bool = False
    event_id: str = ""
    title: str = ""
    values: dict[str, str] = {}
    image_url: str = ""
    types: list[dict[str, str]] = []
    type_values: dict[str, str] = {}
    editing_type: str = ""  # a ticket type's id, or "" to add one
    form_key: int = 0
    type_form_key: int = 0
    errors: dict[str, str] = {}
    type_errors: dict[str, str] = {}
    message: str = ""

    @rx.event
    async def load(self):
        self.errors, self.type_errors, self.message, self.editing_type = {}, {}, "", ""
        opened = await open_event(self)
        if not isinstance(opened, tuple):
            return opened
        _, event = opened
        self._show_event(event)
        await self._reload_types(event)
        if self.router.url.query_parameters.get("created"):
            self.message = "Event created. Add its ticket types below: it goes on sale with them."
        return None

    def _show_event(self, event: Event) -> None:
        self.event_id, self.title = str(pk(event)), event.title
        self.values = {
            "title": event.title,
            "description": event.description,
            "venue": event.venue,
            "starts_at": _local(event.starts_at),
            "currency": event.currency,
        }
        self.image_url = images.url(event.image_name) if event.image_name else ""
        self.form_key += 1

    async def _reload_types(self, event: Event) -> None:
        rows: list[TicketType] = await asyncio.to_thread(events.ticket_types, pk(event))
        self.types = [
            {
                "id": str(pk(t)),
                "name": t.name,
                "price": format_money(t.price_minor, event.currency),
                "price_text": amount_text(t.price_minor, event.currency),
                "capacity": str(t.capacity),
                "taken": str(t.reserved),
                "window": _window(t),
                "sales_start": _local(t.sales_start_at),
                "sales_end": _local(t.sales_end_at),
            }
            for t in rows
        ]

    @rx.event
    async def save_event(self, data: dict[str, str]):
        found = await acting_on_event(self)
        if found is None:
            return await event_gone(self)
        user, event = found
        self.errors, self.message = {}, ""
        try:
            form = event_form_from(data)
            saved = await asyncio.to_thread(events.update_event, user, pk(event), form)
        except InvalidInput as exc:
            self.errors = exc.errors
            return
        self._show_event(saved)
        self.message = "Event saved."
        if saved.currency != event.currency and self.types:
            self.message += f" Prices are now in {saved.currency}, with the same amounts: check them."
            await self._reload_types(saved)

    @rx.event
    async def upload_image(self, files: list[rx.UploadFile]):
        found = await acting_on_event(self)
        if found is None:
            return await event_gone(self)
        if not files:
            return None
        user, event = found
        self.errors = {}
        try:
            name = await asyncio.to_thread(images.store, await files[0].read())
            saved = await asyncio.to_thread(events.set_event_image, user, pk(event), name)
        except InvalidInput as exc:
            self.errors = exc.errors
            return
        self._show_event(saved)
        self.message = "Picture saved."

    @rx.event
    def edit_type(self, type_id: str) -> None:
        chosen = next((t for t in self.types if t["id"] == type_id), None)
        self.editing_type = type_id if chosen else ""
        self.type_values = (
            {
                "name": chosen["name"],
                "price": chosen["price_text"],
                "capacity": chosen["capacity"],
                "sales_start": chosen["sales_start"],
                "sales_end": chosen["sales_end"],
            }
            if chosen
            else {}
        )
        self.type_errors, self.type_form_key = {}, self.type_form_key + 1

    @rx.event
    async def save_type(self, data: dict[str, str]):
        found = await acting_on_event(self)
        if found is None:
            return await event_gone(self)
        user, event = found
        self.type_errors, self.message = {}, ""
        form = events.TicketTypeForm(
            name=data.get("name", ""),
            price=data.get("price", ""),
            capacity=data.get("capacity", ""),
            sales_start=data.get("sales_start", ""),
            sales_end=data.get("sales_end", ""),
        )
        try:
            if self.editing_type:
                await asyncio.to_thread(events.update_ticket_type, user, int(self.editing_type), form)
            else:
                await asyncio.to_thread(events.add_ticket_type, user, pk(event), form)
        except InvalidInput as exc:
            self.type_errors = exc.errors
            return
        except DomainError as exc:
            self.type_errors = {"name": exc.message}
            return
        self.message = f"Ticket type {form.name.strip()} saved."
        self.editing_type, self.type_values, self.type_form_key = "", {}, self.type_form_key + 1
        await self._reload_types(event)


def _window(t: TicketType) -> str:
    start = format_datetime(t.sales_start_at) if t.sales_start_at else "now"
    end = format_datetime(t.sales_end_at) if t.sales_end_at else "the event"
    return f"from {start} until {end}"


def _types_table() -> rx.Component:
    S = EventEditState
    return rx.cond(
        S.types.length() > 0,
        scroll_table(
            ["Name", "Price", "Capacity", "Sold or held", "On sale"],
            S.types,
            lambda t: rx.el.tr(
                rx.el.td(t["name"]),
                rx.el.td(t["price"]),
                rx.el.td(t["capacity"]),
                rx.el.td(t["taken"]),
                rx.el.td(t["window"]),
                rx.el.td(
                    rx.el.button(
                        "Edit",
                        type="button",
                        on_click=S.edit_type(t["id"]),
                        class_name="button secondary small",
                        aria_label="Edit " + t["name"],
                    )
                ),
            ),
            label="Ticket types",
            actions="Actions",
        ),
        notice("No ticket types yet: nobody can buy a ticket until you add one."),
    )


def _type_form() -> rx.Component:
    S = EventEditState
    v = S.type_values
    return rx.el.form(
        rx.el.h3(rx.cond(S.editing_type != "", "Edit ticket type", "Add a ticket type")),
        form_field(
            "Name", "name", rx.el.input(id="name", name="name", default_value=v["name"]), S.type_errors
        ),
        form_field(
            "Price",
            "price",
            rx.el.input(id="price", name="price", input_mode="decimal", default_value=v["price"]),
            S.type_errors,
        ),
        form_field(
            "Capacity",
            "capacity",
            rx.el.input(id="capacity", name="capacity", input_mode="numeric", default_value=v["capacity"]),
            S.type_errors,
        ),
        form_field(
            "Sales open (UTC, empty: now)",
            "sales_start",
            rx.el.input(
                id="sales_start", name="sales_start", type="datetime-local", default_value=v["sales_start"]
            ),
            S.type_errors,
        ),
        form_field(
            "Sales close (UTC, empty: until the event)",
            "sales_end",
            rx.el.input(
                id="sales_end", name="sales_end", type="datetime-local", default_value=v["sales_end"]
            ),
            S.type_errors,
        ),
        rx.el.button(
            rx.cond(S.editing_type != "", "Save ticket type", "Add ticket type"),
            type="submit",
            class_name="button",
        ),
        rx.cond(
            S.editing_type != "",
            rx.el.button("Cancel", type="button", on_click=S.edit_type(""), class_name="button secondary"),
        ),
        key=S.type_form_key,
        on_submit=S.save_type,
        class_name="card",
        no_validate=True,
        aria_label="Ticket type",
    )


def organizer_edit_page() -> rx.Component:
    S = EventEditState
    body = rx.el.div(
        event_tabs(S.event_id),
        rx.el.h1("Edit ", S.title),
        rx.cond(S.message != "", notice(S.message)),
        rx.el.h2("Ticket types"),
        _types_table(),
        _type_form(),
        rx.el.h2("Event"),
        rx.el.form(
            event_fields(S.errors, S.values),
            rx.el.button("Save event", type="submit", class_name="button"),
            key=S.form_key,
            on_submit=S.save_event,
            class_name="card",
            no_validate=True,
            aria_label="Event details",
        ),
        rx.el.h2("Picture"),
        rx.el.div(
            rx.cond(S.image_url != "", rx.el.img(src=S.image_url, alt=S.title, class_name="event-image")),
            labelled_file_input(
                rx.upload(
                    rx.el.button(
                        "Choose a picture (PNG, JPEG or WebP, at most 5 MB)",
                        type="button",
                        class_name="button secondary",
                    ),
                    id="event_image",
                    accept=IMAGE_TYPES,
                    max_files=1,
                    multiple=False,
                    on_drop=S.upload_image,
                ),
                "Event picture",
            ),
            rx.cond(S.errors.contains("image"), rx.el.p(S.errors["image"], class_name="field-error")),
            class_name="card",
        ),
    )
    return page(guarded(S.allowed, S.refused, S.missing, body))
