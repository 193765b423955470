"""``/payment/return?univapayChargeId=…&status=…&paymentId=…``: where the customer
lands after 3-D Secure. The page follows the payment live — the webhook usually
settles it; if it is late the provider is asked — then moves on to the success page
or to the cancel page with the reason."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core import urls
from payflow_app.live.follow import follow_order
from payflow_app.services.payments import attempts, card
from payflow_app.services.payments.snapshot import OrderSnapshot
from payflow_app.settings import get_settings
from payflow_app.ui.components.layout import notice, page, step_items, steps_list
from payflow_app.ui.components.live import card_payment_view, mark_delayed
from payflow_app.ui.session import SessionState, tr


class CardReturnState(rx.State):
    # The reference whose order the vars below describe (see components/live.py).
    shown_for: str = ""
    phase: str = "loading"  # loading | not_found | waiting
    delayed: bool = False
    steps: list[dict[str, str]] = []

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

        await asyncio.to_thread(attempts.customer_landed, payment.id)

        async def show(snap: OrderSnapshot) -> None:
            async with self:
                self.phase = "waiting"
                self.steps = step_items(snap.steps, lang)

        snap = await follow_order(
            payment.order_id,
            show=show,
            verify_payment_id=payment.id,
            delayed_after=get_settings().payment_delayed_after_seconds,
            on_delayed=mark_delayed(self),
        )
        if snap.is_processed:
            yield rx.redirect(urls.card_page(urls.CARD_SUCCESS, public_id), replace=True)
        elif snap.is_closed:
            yield rx.redirect(urls.card_page(urls.CARD_CANCEL, public_id), replace=True)


def card_return_page() -> rx.Component:
    S = CardReturnState
    return page(
        card_payment_view(
            S.shown_for,
            S.phase,
            rx.el.div(
                rx.el.h1(tr("card.return_title")),
                rx.el.p(tr("card.return_text"), class_name="muted", role="status"),
                rx.cond(S.delayed, notice(tr("success.delayed"))),
                steps_list(S.steps, label=tr("success.steps")),
            ),
        ),
    )
