"""``/payment/success?paymentId=…``: the membership bought by card, with its
credentials (the password only during the short reveal window; it is also emailed).
If the payment is not settled yet (a late webhook), the page follows it live."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core import urls
from payflow_app.emails.outbox import emails_for_order
from payflow_app.i18n import format_datetime, format_money
from payflow_app.live.follow import follow_order
from payflow_app.services.accounts import memberships
from payflow_app.services.payments import card
from payflow_app.services.payments.snapshot import OrderSnapshot
from payflow_app.ui.components.layout import (
    email_items,
    emails_section,
    page,
    step_items,
    steps_list,
)
from payflow_app.ui.components.live import card_payment_view
from payflow_app.ui.session import SessionState, tr


class CardSuccessState(rx.State):
    # The reference whose order the vars below describe (see components/live.py).
    shown_for: str = ""
    phase: str = "loading"  # loading | not_found | processing | done
    steps: list[dict[str, str]] = []
    order_number: str = ""
    amount: str = ""
    plan_name: str = ""
    valid_until: str = ""
    username: str = ""
    password: str = ""
    emails: list[dict[str, str]] = []

    @rx.event(background=True)
    async def watch(self):
        async with self:
            public_id = self.router.url.query_parameters.get("paymentId", "")
            lang = (await self.get_state(SessionState)).language()
            self.reset()
            self.shown_for = public_id
        payment = await asyncio.to_thread(card.find_by_public_id, public_id)
        if payment is None or payment.id is None:
            async with self:
                self.phase = "not_found"
            return

        async def show(snap: OrderSnapshot) -> None:
            async with self:
                self.phase = "done" if snap.is_processed else "processing"
                self.order_number = snap.order_number
                self.amount = format_money(snap.amount_minor, snap.currency, lang)
                self.steps = step_items(snap.steps, lang)

        snap = await follow_order(payment.order_id, show=show, verify_payment_id=payment.id)
        if not snap.is_processed:
            if snap.is_closed:
                yield rx.redirect(urls.card_page(urls.CARD_CANCEL, public_id), replace=True)
            return
        credentials = await asyncio.to_thread(memberships.credentials_for_payment, public_id)
        emails = await asyncio.to_thread(emails_for_order, payment.order_id)
        async with self:
            if credentials is not None:
                self.plan_name, self.username = credentials.plan_name, credentials.username
                self.password = credentials.password or ""
                self.valid_until = format_datetime(credentials.valid_until, lang)
            self.emails = email_items(emails, lang)


def _credentials() -> rx.Component:
    S = CardSuccessState
    return rx.el.section(
        rx.el.h2(tr("card.credentials")),
        rx.el.dl(
            rx.el.dt(tr("card.plan")),
            rx.el.dd(S.plan_name),
            rx.el.dt(tr("card.valid_until")),
            rx.el.dd(S.valid_until),
            rx.el.dt(tr("card.username")),
            rx.el.dd(rx.el.code(S.username), id="membership-username"),
            rx.el.dt(tr("card.password")),
            rx.el.dd(
                rx.cond(S.password != "", rx.el.code(S.password), tr("card.password_hidden")),
                id="membership-password",
            ),
        ),
        rx.el.p(tr("card.credentials_note"), class_name="muted small"),
        rx.el.a(tr("card.log_in"), href=urls.LOGIN, class_name="button"),
        class_name="summary",
    )


def card_success_page() -> rx.Component:
    S = CardSuccessState
    return page(
        card_payment_view(
            S.shown_for,
            S.phase,
            rx.el.div(
                rx.cond(
                    S.phase == "done",
                    rx.el.h1(tr("card.success_title")),
                    rx.el.h1(tr("card.success_processing")),
                ),
                steps_list(S.steps, label=tr("success.steps")),
                rx.el.p(
                    tr("success.order_number"), ": ", S.order_number, " · ", S.amount, class_name="muted"
                ),
                rx.cond(S.username != "", _credentials()),
                emails_section(S.emails),
            ),
        ),
    )
