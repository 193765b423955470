"""``/organizer/events/<id>/attendees``: one line per ticket — holder, email, type,
order and its status, checked in or not — searched by name, email, order number or
ticket number, filtered by status, type and check-in, exported as CSV with the same
filters. Each ticket can be sent again, reissued (new QR, the old one revoked) or
revoked (its QR stops working; the holder is emailed the reason)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from payflow_app.core.errors import DomainError
from payflow_app.core.states import OrderStatus, TicketStatus
from payflow_app.models import pk
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer import attendees, events
from payflow_app.services.tickets import actions
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.components.organizer import (
    acting_on_event,
    event_gone,
    event_tabs,
    guarded,
    open_event,
)
from payflow_app.ui.components.table import scroll_table

FILTER_FIELDS = ("q", "status", "type", "checked_in")


class AttendeesState(rx.State):
    allowed: bool = False
    refused: bool = False
    missing: bool = False
    event_id: str = ""
    title: str = ""
    rows: list[dict[str, str]] = []
    type_options: list[dict[str, str]] = []
    filters: dict[str, str] = {}
    filters_key: int = 0
    csv_href: str = ""
    revoking: str = ""  # the ticket number whose revocation reason is being typed
    message: str = ""
    error: str = ""

    @rx.event
    async def load(self):
        self.message = self.error = self.revoking = ""
        opened = await open_event(self)
        if not isinstance(opened, tuple):
            return opened
        _, event = opened
        types = await asyncio.to_thread(events.ticket_types, pk(event))
        self.type_options = [{"id": str(pk(t)), "name": t.name} for t in types]
        query = self.router.url.query_parameters
        self.filters = {name: str(query.get(name, "")) for name in FILTER_FIELDS}
        self.filters_key += 1
        await self._reload(pk(event))
        return None

    async def _reload(self, event_id: int) -> None:
        where = attendees.filter_from(self.filters)
        found = await asyncio.to_thread(attendees.attendees, event_id, where)
        self.rows = [
            {
                "number": a.ticket_number,
                "holder": a.holder,
                "email": a.email,
                "type": a.ticket_type,
                "order": a.order_number,
                "order_status": a.order_status,
                "ticket_status": a.ticket_status,
                "checked_in": a.checked_in_at.strftime("%Y-%m-%d %H:%M") + f" ({a.gate})"
                if a.checked_in_at
                else "",
                "actionable": "yes" if a.ticket_status == TicketStatus.VALID else "",
            }
            for a in found
        ]
        chosen = {k: v for k, v in self.filters.items() if v}
        self.csv_href = f"/api/organizer/events/{event_id}/attendees.csv" + (
            "?" + urlencode(chosen) if chosen else ""
        )

    @rx.event
    async def search(self, data: dict[str, str]):
        acting = await acting_on_event(self)
        if acting is None:
            return await event_gone(self)
        self.filters = {name: str(data.get(name, "")).strip() for name in FILTER_FIELDS}
        self.message = self.error = ""
        await self._reload(pk(acting[1]))
        return None

    async def _act(self, work: Callable[[SessionUser], actions.ActionResult]) -> EventSpec | None:
        acting = await acting_on_event(self)
        if acting is None:
            return await event_gone(self)
        user, event = acting
        self.message = self.error = ""
        try:
            result = await asyncio.to_thread(work, user)
            self.message = result.message
        except DomainError as exc:
            self.error = exc.message
        await self._reload(pk(event))
        return None

    @rx.event
    async def resend(self, number: str):
        return await self._act(lambda user: actions.resend(user, number))

    @rx.event
    async def reissue(self, number: str):
        return await self._act(lambda user: actions.reissue(user, number))

    @rx.event
    def ask_revoke(self, number: str) -> None:
        self.revoking, self.message, self.error = number, "", ""

    @rx.event
    async def revoke(self, data: dict[str, str]):
        number, reason = self.revoking, data.get("reason", "")
        gone = await self._act(lambda user: actions.revoke(user, number, reason=reason))
        if not self.error:
            self.revoking = ""
        return gone


def _filters() -> rx.Component:
    S = AttendeesState
    return rx.el.form(
        rx.el.input(
            name="q",
            placeholder="Name, email, order or ticket number",
            default_value=S.filters["q"],
            aria_label="Search",
            type="search",
        ),
        rx.el.select(
            rx.el.option("Any status", value=""),
            *[rx.el.option(status.value.replace("_", " "), value=status.value) for status in OrderStatus],
            name="status",
            default_value=S.filters["status"],
            aria_label="Order status",
        ),
        rx.el.select(
            rx.el.option("Any type", value=""),
            rx.foreach(S.type_options, lambda t: rx.el.option(t["name"], value=t["id"])),
            name="type",
            default_value=S.filters["type"],
            aria_label="Ticket type",
        ),
        rx.el.select(
            rx.el.option("Checked in or not", value=""),
            rx.el.option("Checked in", value="yes"),
            rx.el.option("Not checked in", value="no"),
            name="checked_in",
            default_value=S.filters["checked_in"],
            aria_label="Checked in",
        ),
        rx.el.button("Search", type="submit", class_name="button small"),
        rx.el.a(
            "Download CSV",
            href=S.csv_href,
            download="attendees.csv",
            # A document request (not client-side routing), so the browser downloads it.
            custom_attrs={"reloadDocument": True},
            class_name="button secondary small",
        ),
        key=S.filters_key,
        on_submit=S.search,
        class_name="toolbar",
        aria_label="Find attendees",
    )


def _actions(row: rx.Var) -> rx.Component:
    S = AttendeesState
    return rx.cond(
        row["actionable"] == "yes",
        rx.el.div(
            rx.el.button("Resend", type="button", on_click=S.resend(row["number"]), class_name="link"),
            rx.el.button("Reissue", type="button", on_click=S.reissue(row["number"]), class_name="link"),
            rx.el.button("Revoke", type="button", on_click=S.ask_revoke(row["number"]), class_name="link"),
            class_name="row-actions",
        ),
    )


def _revoke_form() -> rx.Component:
    S = AttendeesState
    return rx.el.form(
        rx.el.p(
            "Revoke ticket ",
            rx.el.strong(S.revoking),
            ": its QR code stops working and the holder is emailed why.",
        ),
        rx.el.input(
            name="reason", placeholder="Reason (the holder reads it)", aria_label="Reason", id="revoke-reason"
        ),
        rx.el.button("Revoke ticket", type="submit", class_name="button small danger"),
        rx.el.button("Cancel", type="button", on_click=S.ask_revoke(""), class_name="button secondary small"),
        on_submit=S.revoke,
        class_name="card toolbar",
        aria_label="Revoke ticket",
    )


def organizer_attendees_page() -> rx.Component:
    S = AttendeesState
    columns = [
        ("Ticket", "number"),
        ("Holder", "holder"),
        ("Email", "email"),
        ("Type", "type"),
        ("Order", "order"),
        ("Order status", "order_status"),
        ("Ticket status", "ticket_status"),
        ("Checked in", "checked_in"),
    ]
    body = rx.el.div(
        event_tabs(S.event_id),
        rx.el.h1("Attendees of ", S.title),
        _filters(),
        rx.cond(S.message != "", notice(S.message)),
        rx.cond(S.error != "", notice(S.error, tone="error")),
        rx.cond(S.revoking != "", _revoke_form()),
        rx.cond(
            S.rows.length() > 0,
            scroll_table(
                [*[h for h, _ in columns], "Actions"],
                S.rows,
                lambda r: rx.el.tr(*[rx.el.td(r[f]) for _, f in columns], rx.el.td(_actions(r))),
                label="Attendees",
            ),
            rx.el.p("No ticket matches.", class_name="muted"),
        ),
    )
    return page(guarded(S.allowed, S.refused, S.missing, body))
