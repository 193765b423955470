"""``/payments/cancel?session_id=…``: the customer left the pay page."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from payflow_app.providers.base import PaymentError
from payflow_app.services import payments
from payflow_app.services.errors import NotFound
from payflow_app.services.states import PaymentStatus
from payflow_app.services.status import order_snapshot
from payflow_app.ui import routes
from payflow_app.ui.components.layout import message_panel, page

log = logging.getLogger(__name__)


class CancelState(rx.State):
    phase: str = "loading"  # loading | cancelled | paid | not_found | error
    retry_href: str = "/"
    success_href: str = ""

    @rx.event
    async def load(self) -> None:
        session_id = self.router.url.query_parameters.get("session_id", "")
        self.phase = "loading"
        try:
            payment = await payments.cancel_by_customer(provider="stripe", reference=session_id)
        except NotFound:
            self.phase = "not_found"
            return
        except PaymentError:
            log.warning("cancel of %s failed", session_id, exc_info=True)
            self.phase = "error"
            return
        snap = await asyncio.to_thread(order_snapshot, payment.order_id, with_qr=False)
        self.retry_href = routes.event_path(snap.event_slug) if snap else routes.EVENTS
        self.success_href = f"{routes.PAYMENT_SUCCESS}?session_id={session_id}"
        self.phase = "paid" if payment.status == PaymentStatus.SUCCEEDED else "cancelled"


def payment_cancel_page() -> rx.Component:
    S = CancelState
    return page(
        rx.match(
            S.phase,
            ("loading", rx.el.p("Cancelling your payment…", class_name="muted")),
            (
                "cancelled",
                message_panel(
                    "Payment cancelled",
                    "Your order was cancelled and you have not been charged. "
                    "The tickets you chose are available again.",
                    action="Try again",
                    href=S.retry_href,
                ),
            ),
            (
                "paid",
                message_panel(
                    "This payment was already completed",
                    "Your payment went through before it could be cancelled, so your order stands.",
                    action="See your order",
                    href=S.success_href,
                ),
            ),
            ("not_found", message_panel("Payment not found", action="Browse events", href=routes.EVENTS)),
            message_panel(
                "We could not cancel right now",
                "The payment provider did not answer. Nothing was charged by this page; "
                "please reload it in a moment.",
            ),
        ),
    )
