"""``/payments/cancel?session_id=…``: the customer left the pay page.

Steps, each ticked once it is true in the database: the payment is cancelled (at the
provider and here), the locks it held are gone (seats released, gallery unlocked — in
the same transaction as the cancellation); a dashboard purchase then returns to the
dashboard by itself (a third step, "preparing the redirect"), a ticket order stays
and offers a retry."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.errors import NotFound
from payflow_app.core.states import Kind, PaymentStatus
from payflow_app.i18n import t
from payflow_app.providers.base import PaymentError
from payflow_app.services.payments import attempts
from payflow_app.services.payments.snapshot import order_holds_nothing, order_snapshot
from payflow_app.ui.components.layout import message_panel, page, steps_list
from payflow_app.ui.components.live import address_query, only_for_address
from payflow_app.ui.session import SessionState, tr

log = logging.getLogger(__name__)
CANCEL_STEPS = ("cancel_transaction", "clear_locks")
REDIRECT_STEP = "prepare_redirect"  # only where the page sends the customer back itself
REDIRECT_AFTER_SECONDS = 1.0


class CancelState(rx.State):
    # The reference whose order the vars below describe (see components/live.py).
    shown_for: str = ""
    phase: str = "loading"  # loading | cancelled | paid | not_found | error
    kind: str = ""
    steps: list[dict[str, str]] = []
    retry_href: str = "/"
    success_href: str = ""

    def _tick(self, lang: str, done: int) -> None:
        self.steps = [
            {"label": t(lang, f"steps.{key}"), "state": "done" if i < done else "pending"}
            for i, key in enumerate(self._step_keys())
        ]

    def _step_keys(self) -> tuple[str, ...]:
        """A ticket order stays here to offer a retry: no redirect step to promise."""
        redirects = self.kind not in ("", Kind.TICKETS)
        return CANCEL_STEPS + ((REDIRECT_STEP,) if redirects else ())

    @rx.event
    async def load(self):
        session_id = self.router.url.query_parameters.get("session_id", "")
        lang = (await self.get_state(SessionState)).language()
        self.reset()
        self.shown_for = session_id
        self._tick(lang, 0)
        yield
        try:
            payment = await attempts.cancel_by_customer(provider="stripe", reference=session_id)
        except NotFound:
            self.phase = "not_found"
            return
        except PaymentError:
            log.warning("cancel of %s failed", session_id, exc_info=True)
            self.phase = "error"
            return
        snap = await asyncio.to_thread(order_snapshot, payment.order_id, with_qr=False)
        assert snap is not None
        self.kind = snap.kind
        self.retry_href = urls.event_path(snap.event_slug) if snap.event_slug else urls.DASHBOARD
        self.success_href = urls.success_path(session_id)
        if payment.status == PaymentStatus.SUCCEEDED:
            self.phase = "paid"
            return
        self.phase = "cancelled"
        self._tick(lang, 1)
        yield
        if await asyncio.to_thread(order_holds_nothing, payment.order_id):
            self._tick(lang, 2)
            yield
        self._tick(lang, 3)
        if snap.kind != Kind.TICKETS:
            yield
            await asyncio.sleep(REDIRECT_AFTER_SECONDS)
            yield rx.redirect(f"{urls.DASHBOARD}?payment=cancelled")


def payment_cancel_page() -> rx.Component:
    S = CancelState
    return page(
        only_for_address(
            S.shown_for,
            address_query("session_id"),
            rx.match(
                S.phase,
                (
                    "loading",
                    rx.el.div(
                        rx.el.h1(tr("cancel.title_cancelling")),
                        steps_list(S.steps, label=tr("cancel.steps")),
                    ),
                ),
                (
                    "cancelled",
                    rx.el.div(
                        rx.el.h1(tr("cancel.title")),
                        steps_list(S.steps, label=tr("cancel.steps")),
                        rx.cond(
                            S.kind == Kind.TICKETS,
                            rx.el.div(
                                rx.el.p(tr("cancel.tickets_text")),
                                rx.el.a(tr("cancel.try_again"), href=S.retry_href, class_name="button"),
                            ),
                            rx.el.p(tr("cancel.back_to_dashboard"), class_name="muted"),
                        ),
                    ),
                ),
                (
                    "paid",
                    message_panel(
                        tr("cancel.paid_title"),
                        tr("cancel.paid_text"),
                        action=tr("cancel.see_order"),
                        href=S.success_href,
                    ),
                ),
                (
                    "not_found",
                    message_panel(
                        tr("success.not_found"), action=tr("checkout.see_all_events"), href=urls.EVENTS
                    ),
                ),
                message_panel(tr("cancel.error_title"), tr("cancel.error_text")),
            ),
        ),
    )
