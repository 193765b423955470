"""``/payment/cancel?paymentId=…``: a card payment that did not complete — the
customer left the card widget (the uncharged payment is cancelled here), the card
was refused, or 3-D Secure failed — with the reason and a link to try again."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.states import PaymentStatus
from payflow_app.i18n import decline_reason, t
from payflow_app.services.payments import attempts, card
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.components.live import card_payment_view
from payflow_app.ui.session import SessionState, tr


class CardCancelState(rx.State):
    # The reference whose order the vars below describe (see components/live.py).
    shown_for: str = ""
    phase: str = "loading"  # loading | not_found | closed
    reason: str = ""
    retry_href: str = urls.MEMBERSHIP

    @rx.event
    async def load(self):
        public_id = self.router.url.query_parameters.get("paymentId", "")
        lang = (await self.get_state(SessionState)).language()
        self.reset()
        self.shown_for = public_id
        payment = await asyncio.to_thread(card.cancel_uncharged, public_id=public_id)
        if payment is None or payment.id is None:
            self.phase = "not_found"
            return
        if payment.status == PaymentStatus.SUCCEEDED:
            return rx.redirect(urls.card_page(urls.CARD_SUCCESS, public_id), replace=True)
        if payment.status == PaymentStatus.PENDING:  # charged, still deciding: follow it live
            return rx.redirect(urls.card_page(urls.CARD_RETURN, public_id), replace=True)
        order, _ = await asyncio.to_thread(attempts.order_with_latest_payment, payment.order_id)
        self.retry_href = (
            f"{urls.MEMBERSHIP}?{urlencode({'plan': order.plan_code or '', 'currency': order.currency})}"
        )
        if payment.status == PaymentStatus.REQUIRES_REVIEW:  # paid, but not as ordered: we check it
            self.reason = t(lang, "success.review")
        elif payment.status == PaymentStatus.CANCELLED and not payment.failure_message:
            self.reason = t(lang, "card.cancel_abandoned")
        elif payment.failure_message:
            self.reason = t(
                lang,
                "card.cancel_failed",
                reason=decline_reason(lang, payment.failure_code, payment.failure_message),
            )
        else:
            self.reason = t(lang, "card.cancel_generic")
        self.phase = "closed"
        return None


def card_cancel_page() -> rx.Component:
    S = CardCancelState
    return page(
        card_payment_view(
            S.shown_for,
            S.phase,
            rx.el.div(
                rx.el.h1(tr("card.cancel_title")),
                notice(S.reason, tone="error"),
                rx.el.div(
                    rx.el.a(tr("card.try_again"), href=S.retry_href, class_name="button"),
                    rx.el.a(tr("card.browse"), href=urls.EVENTS, class_name="button secondary"),
                    class_name="actions",
                ),
            ),
        ),
    )
