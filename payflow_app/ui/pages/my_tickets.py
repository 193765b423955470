"""``/wallet``: My Tickets — the signed-in customer's own tickets, each with its QR,
"Show QR" (large, for the gate) and "Download" (PNG)."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.qr import qr_data_uri
from payflow_app.i18n import format_datetime, t
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.payments import account_overview
from payflow_app.ui.components.layout import page
from payflow_app.ui.session import SessionState, require_user, tr


class MyTicketsState(rx.State):
    loaded: bool = False
    tickets: list[dict[str, str]] = []
    shown: str = ""  # the ticket number whose QR is shown large

    @rx.event
    async def load(self):
        self.loaded, self.shown = False, ""
        user = await require_user(self)
        if not isinstance(user, SessionUser):
            return user
        lang = (await self.get_state(SessionState)).language()
        cards = await asyncio.to_thread(account_overview.tickets, user_id=user.id)
        self.tickets = [
            {
                "number": c.number,
                "event": c.event_title,
                "date": format_datetime(c.starts_at, lang),
                "venue": c.venue,
                "type": c.ticket_type,
                "status": t(lang, f"ticket.{c.status}"),
                "qr": qr_data_uri(c.qr_token) if c.qr_token else "",
                "download": urls.ticket_png(c.number),
            }
            for c in cards
        ]
        self.loaded = True
        return None

    @rx.event
    def show(self, number: str) -> None:
        self.shown = number

    @rx.event
    def hide(self) -> None:
        self.shown = ""


def _card(ticket: rx.Var) -> rx.Component:
    return rx.el.article(
        rx.cond(
            ticket["qr"] != "",
            rx.el.img(
                src=ticket["qr"], alt=tr("tickets.qr_alt") + " " + ticket["number"], class_name="qr-small"
            ),
        ),
        rx.el.div(
            rx.el.h2(ticket["event"]),
            rx.el.dl(
                rx.el.dt(tr("tickets.date")),
                rx.el.dd(ticket["date"]),
                rx.el.dt(tr("tickets.venue")),
                rx.el.dd(ticket["venue"]),
                rx.el.dt(tr("tickets.type")),
                rx.el.dd(ticket["type"]),
                rx.el.dt(tr("tickets.number")),
                rx.el.dd(ticket["number"], class_name="mono"),
                rx.el.dt(tr("tickets.status")),
                rx.el.dd(ticket["status"]),
            ),
            rx.cond(
                ticket["qr"] != "",
                rx.el.div(
                    rx.el.button(
                        tr("tickets.show_qr"),
                        type="button",
                        on_click=MyTicketsState.show(ticket["number"]),
                        class_name="button",
                    ),
                    rx.el.a(
                        tr("tickets.download"),
                        href=ticket["download"],
                        download=ticket["number"] + ".png",
                        # A document request (not client-side routing), so the browser downloads it.
                        custom_attrs={"reloadDocument": True},
                        class_name="button secondary",
                    ),
                    class_name="actions",
                ),
            ),
        ),
        class_name="card ticket-card",
        aria_label=ticket["number"],
    )


def _large_qr() -> rx.Component:
    S = MyTicketsState
    return rx.cond(
        S.shown != "",
        rx.el.div(
            rx.el.div(
                rx.foreach(
                    S.tickets,
                    lambda tk: rx.cond(
                        tk["number"] == S.shown,
                        rx.el.figure(
                            rx.el.img(
                                src=tk["qr"],
                                alt=tr("tickets.qr_alt") + " " + tk["number"],
                                class_name="qr-large",
                            ),
                            rx.el.figcaption(tk["event"], " · ", tk["number"]),
                        ),
                    ),
                ),
                rx.el.button(tr("tickets.close"), type="button", on_click=S.hide, class_name="button"),
                class_name="overlay-box",
                role="dialog",
                aria_modal="true",
                aria_label=tr("tickets.show_qr"),
            ),
            class_name="overlay",
        ),
    )


def my_tickets_page() -> rx.Component:
    S = MyTicketsState
    return page(
        rx.cond(
            S.loaded & (S.tickets.length() == 0),
            rx.el.div(
                rx.el.p(tr("tickets.none")),
                rx.el.a(tr("success.browse_more"), href=urls.EVENTS, class_name="button"),
            ),
        ),
        rx.el.div(rx.foreach(S.tickets, _card), class_name="cards"),
        _large_qr(),
        title=tr("tickets.title"),
    )
