"""``/payments/success?session_id=…``: the processing page.

Its steps change only when the backend has committed them: a background task of the
tab watches the order on the status bus and pushes each new snapshot through Reflex
state. Landing here also asks the provider for the truth and runs the same
idempotent fulfilment as the webhook (Stripe's recommended pattern)."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from payflow_app.live.bus import bus
from payflow_app.models import pk
from payflow_app.services import payments
from payflow_app.services.status import STEPS, OrderSnapshot, order_snapshot
from payflow_app.ui import routes
from payflow_app.ui.components.layout import message_panel, notice, page

log = logging.getLogger(__name__)
STEP_LABELS = {
    "verify_payment": "Verifying payment",
    "process_transaction": "Processing the transaction",
    "issue_tickets": "Issuing tickets",
    "send_confirmation": "Sending confirmation",
}
DELAYED_AFTER_SECONDS = 120


class PaymentStatusState(rx.State):
    phase: str = "loading"  # loading | not_found | processing | done | closed
    delayed: bool = False
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

    def _apply(self, snap: OrderSnapshot) -> None:
        self.order_number, self.event_title = snap.order_number, snap.event_title
        self.event_href = routes.event_path(snap.event_slug)
        self.ticket_type, self.quantity, self.amount = snap.ticket_type, snap.quantity, snap.amount
        self.order_status, self.payment_status = snap.order_status, snap.payment_status
        self.steps = [
            {"label": STEP_LABELS[key], "state": "done" if snap.steps_done[key] else "pending"}
            for key in STEPS
        ]
        self.tickets = [
            {"number": t.number, "type": t.ticket_type, "qr": t.qr_data_uri} for t in snap.tickets
        ]
        self.phase = "done" if snap.is_processed else ("closed" if snap.is_closed else "processing")
        self.problem = _problem_text(snap) if self.phase == "closed" else ""

    async def _refresh(self, order_id: int) -> OrderSnapshot:
        snap = await asyncio.to_thread(order_snapshot, order_id)
        assert snap is not None
        async with self:
            self._apply(snap)
        return snap

    @rx.event(background=True)
    async def watch(self):
        async with self:
            session_id = self.router.url.query_parameters.get("session_id", "")
            self.phase, self.delayed = "loading", False
        payment = await asyncio.to_thread(payments.find_payment, provider="stripe", reference=session_id)
        if payment is None:
            async with self:
                self.phase = "not_found"
            return
        # Subscribe before the first read, so no step can slip between the two.
        async with bus.watch(payment.order_id) as changes:
            snap = await self._refresh(payment.order_id)
            verifying = None
            if not snap.is_closed and not snap.is_processed:
                verifying = asyncio.create_task(_verify_quietly(pk(payment)))
            try:
                while not (snap.is_processed or snap.is_closed):
                    try:
                        await asyncio.wait_for(changes.get(), timeout=DELAYED_AFTER_SECONDS)
                    except TimeoutError:
                        async with self:
                            self.delayed = True
                        continue
                    snap = await self._refresh(payment.order_id)
            finally:
                if verifying is not None and not verifying.done():
                    verifying.cancel()


async def _verify_quietly(payment_id: int) -> None:
    try:
        await payments.verify_payment(payment_id=payment_id)
    except Exception:  # the webhook will still complete it; the page keeps listening
        log.warning("landing verification of payment %s failed", payment_id, exc_info=True)


def _problem_text(snap: OrderSnapshot) -> str:
    if snap.payment_status == "requires_review":
        return "We received your payment but need to check it before issuing tickets. We will email you; there is no need to pay again."
    if snap.order_status in ("cancelled", "expired"):
        return "This order was cancelled and you have not been charged."
    return snap.failure_message or "The payment did not go through."


def _step(step: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.span(rx.cond(step["state"] == "done", "✓", "…"), class_name="step-mark", aria_hidden="true"),
        rx.el.span(step["label"]),
        rx.el.span(rx.cond(step["state"] == "done", " — done", " — in progress"), class_name="sr-only"),
        class_name=rx.cond(step["state"] == "done", "step step-done", "step"),
        data_state=step["state"],
    )


def _ticket(ticket: rx.Var) -> rx.Component:
    return rx.el.figure(
        rx.el.img(
            src=ticket["qr"],
            alt=rx.Var.create("QR code for ticket ") + ticket["number"],
            width="180",
            height="180",
        ),
        rx.el.figcaption(ticket["type"], " · ", ticket["number"]),
        class_name="ticket",
    )


def _summary() -> rx.Component:
    S = PaymentStatusState
    return rx.el.section(
        rx.el.h2("Order summary"),
        rx.el.dl(
            rx.el.dt("Order number"),
            rx.el.dd(S.order_number),
            rx.el.dt("Event"),
            rx.el.dd(S.event_title),
            rx.el.dt("Tickets"),
            rx.el.dd(S.quantity, " × ", S.ticket_type),
            rx.el.dt("Amount"),
            rx.el.dd(S.amount),
            rx.el.dt("Status"),
            rx.el.dd(S.order_status, id="order-status"),
        ),
        class_name="summary",
    )


def payment_success_page() -> rx.Component:
    S = PaymentStatusState
    return page(
        rx.match(
            S.phase,
            ("loading", rx.el.p("Loading your order…", class_name="muted")),
            (
                "not_found",
                message_panel(
                    "Payment not found",
                    "We could not find a payment for this link.",
                    action="Browse events",
                    href=routes.EVENTS,
                ),
            ),
            rx.el.div(
                rx.match(
                    S.phase,
                    ("done", rx.el.h1("Payment confirmed")),
                    ("closed", rx.el.h1("Payment not completed")),
                    rx.el.h1("Processing your payment"),
                ),
                rx.cond(
                    S.phase == "processing", rx.el.p("Waiting for payment confirmation…", class_name="muted")
                ),
                rx.cond(
                    S.delayed & (S.phase == "processing"),
                    notice(
                        "Confirmation is taking longer than usual. You can keep this page open: it will update by itself. "
                        "If you paid, your tickets will also be emailed to you."
                    ),
                ),
                rx.cond(S.problem != "", notice(S.problem, tone="error")),
                rx.el.ol(rx.foreach(S.steps, _step), class_name="steps", aria_label="Processing steps"),
                _summary(),
                rx.cond(
                    S.tickets.length() > 0,
                    rx.el.section(
                        rx.el.h2("Your tickets"),
                        rx.el.div(rx.foreach(S.tickets, _ticket), class_name="tickets"),
                    ),
                ),
                rx.cond(S.phase == "closed", rx.el.a("Try again", href=S.event_href, class_name="button")),
                rx.cond(
                    S.phase == "done",
                    rx.el.a("Browse more events", href=routes.EVENTS, class_name="button secondary"),
                ),
            ),
        ),
        title=None,
    )
