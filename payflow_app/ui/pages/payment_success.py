"""``/payments/success?session_id=…``: the processing page, for every kind of order.

Its steps change only when the backend has committed them: a background task of the
tab watches the order on the status bus and pushes each new snapshot through Reflex
state. Landing here also asks the provider for the truth and runs the same
idempotent fulfilment as the webhook (Stripe's recommended pattern). When a top-up,
gallery or plan payment is done the page sends the customer to the dashboard with
``?payment=success``; a ticket order stays here with its tickets and emails."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.states import Kind, PaymentStatus
from payflow_app.emails.outbox import OutboxView
from payflow_app.i18n import decline_reason, format_money, t
from payflow_app.live.follow import follow_order
from payflow_app.models import pk
from payflow_app.services.payments import attempts
from payflow_app.services.payments.snapshot import OrderSnapshot
from payflow_app.settings import get_settings
from payflow_app.ui.components.layout import (
    email_items,
    emails_section,
    message_panel,
    notice,
    page,
    step_items,
    steps_list,
    ticket_next_steps,
)
from payflow_app.ui.components.live import address_query, mark_delayed, only_for_address
from payflow_app.ui.session import SessionState, tr

REDIRECT_AFTER_SECONDS = 1.5
DASHBOARD_AFTER = {
    Kind.TOP_UP: "wallet",
    Kind.GALLERY: "galleries",
    Kind.PLAN: "plan",
}


class PaymentStatusState(rx.State):
    # The session id whose order the vars below describe (see components/live.py).
    shown_for: str = ""
    phase: str = "loading"  # loading | not_found | processing | done | closed
    delayed: bool = False
    kind: str = ""
    order_number: str = ""
    event_title: str = ""
    event_href: str = "/"
    ticket_type: str = ""
    quantity: int = 0
    amount: str = ""
    order_status: str = ""
    payment_status: str = ""
    problem: str = ""
    steps: list[dict[str, str]] = []
    tickets: list[dict[str, str]] = []
    emails: list[dict[str, str]] = []

    def _apply(self, snap: OrderSnapshot, lang: str) -> None:
        self.kind, self.order_number, self.event_title = snap.kind, snap.order_number, snap.event_title
        self.event_href = urls.event_path(snap.event_slug) if snap.event_slug else urls.DASHBOARD
        self.ticket_type, self.quantity = snap.ticket_type, snap.quantity
        self.amount = format_money(snap.amount_minor, snap.currency, lang)
        self.order_status = t(lang, f"status.{snap.order_status}")
        self.payment_status = snap.payment_status
        self.steps = step_items(snap.steps, lang)
        self.tickets = [
            {"number": x.number, "type": x.ticket_type, "qr": x.qr_data_uri} for x in snap.tickets
        ]
        self.phase = "done" if snap.is_processed else ("closed" if snap.is_closed else "processing")
        self.problem = _problem_text(snap, lang) if self.phase == "closed" else ""

    @rx.event(background=True)
    async def watch(self):
        async with self:
            session_id = self.router.url.query_parameters.get("session_id", "")
            self.reset()
            self.shown_for = session_id
            lang = (await self.get_state(SessionState)).language()
        payment = await asyncio.to_thread(attempts.find_payment_by_reference, session_id)
        if payment is None:
            async with self:
                self.phase = "not_found"
            return
        await asyncio.to_thread(attempts.customer_landed, pk(payment))

        async def show(snap: OrderSnapshot) -> None:
            async with self:
                self._apply(snap, lang)

        async def show_emails(emails: list[OutboxView]) -> None:
            async with self:
                self.emails = email_items(emails, lang)

        # Landing here also asks the provider at once (the wallet settles by itself);
        # a ticket order stays on this page, so it is followed until its emails are out.
        snap = await follow_order(
            payment.order_id,
            show=show,
            show_emails=show_emails,
            wait_for_emails=lambda snap: snap.kind == Kind.TICKETS,
            with_qr=True,
            verify_payment_id=None if payment.provider == "wallet" else pk(payment),
            verify_after=0.0,
            delayed_after=get_settings().payment_delayed_after_seconds,
            on_delayed=mark_delayed(self),
        )
        target = DASHBOARD_AFTER.get(Kind(snap.kind)) if snap.kind in DASHBOARD_AFTER else None
        if snap.is_processed and target:
            await asyncio.sleep(REDIRECT_AFTER_SECONDS)
            yield rx.redirect(f"{urls.DASHBOARD}?payment=success&section={target}")


def _problem_text(snap: OrderSnapshot, lang: str) -> str:
    if snap.payment_status == PaymentStatus.REQUIRES_REVIEW:
        return t(lang, "success.review")
    if snap.order_status in ("cancelled", "expired"):
        return t(lang, "success.cancelled")
    return decline_reason(lang, snap.failure_code, snap.failure_message)


def _ticket(ticket: rx.Var) -> rx.Component:
    return rx.el.figure(
        rx.el.img(
            src=ticket["qr"], alt=tr("tickets.qr_alt") + " " + ticket["number"], width="180", height="180"
        ),
        rx.el.figcaption(ticket["type"], " · ", ticket["number"]),
        class_name="ticket",
    )


def _summary() -> rx.Component:
    S = PaymentStatusState
    return rx.el.section(
        rx.el.h2(tr("success.summary")),
        rx.el.dl(
            rx.el.dt(tr("success.order_number")),
            rx.el.dd(S.order_number),
            rx.cond(
                S.kind == Kind.TICKETS,
                rx.fragment(
                    rx.el.dt(tr("success.event")),
                    rx.el.dd(S.event_title),
                    rx.el.dt(tr("success.tickets")),
                    rx.el.dd(S.quantity, " × ", S.ticket_type),
                ),
            ),
            rx.el.dt(tr("success.amount")),
            rx.el.dd(S.amount),
            rx.el.dt(tr("success.status")),
            rx.el.dd(S.order_status, id="order-status"),
        ),
        class_name="summary",
    )


def _next_steps() -> rx.Component:
    S = PaymentStatusState
    return rx.cond((S.phase == "done") & (S.kind == Kind.TICKETS), ticket_next_steps())


def payment_success_page() -> rx.Component:
    S = PaymentStatusState
    return page(
        only_for_address(
            S.shown_for,
            address_query("session_id"),
            rx.match(
                S.phase,
                ("loading", rx.el.p(tr("success.loading"), class_name="muted")),
                (
                    "not_found",
                    message_panel(
                        tr("success.not_found"),
                        tr("success.not_found_text"),
                        action=tr("checkout.see_all_events"),
                        href=urls.EVENTS,
                    ),
                ),
                rx.el.div(
                    rx.match(
                        S.phase,
                        ("done", rx.el.h1(tr("success.title_done"))),
                        ("closed", rx.el.h1(tr("success.title_closed"))),
                        rx.el.h1(tr("success.title_processing")),
                    ),
                    rx.cond(S.phase == "processing", rx.el.p(tr("success.waiting"), class_name="muted")),
                    rx.cond(
                        (S.phase == "done") & (S.kind != Kind.TICKETS),
                        rx.el.p(tr("success.done_redirecting"), class_name="done-message", role="status"),
                    ),
                    rx.cond(S.delayed & (S.phase == "processing"), notice(tr("success.delayed"))),
                    rx.cond(S.problem != "", notice(S.problem, tone="error")),
                    steps_list(S.steps, label=tr("success.steps")),
                    _summary(),
                    rx.cond(
                        S.tickets.length() > 0,
                        rx.el.section(
                            rx.el.h2(tr("success.your_tickets")),
                            rx.el.div(rx.foreach(S.tickets, _ticket), class_name="tickets"),
                        ),
                    ),
                    emails_section(S.emails),
                    _next_steps(),
                    rx.cond(
                        S.phase == "closed",
                        rx.el.a(tr("success.try_again"), href=S.event_href, class_name="button"),
                    ),
                ),
            ),
        ),
    )
