"""``/admin/orders/<id>``: one order's whole story for an operator — every status it
and its payments took, every webhook (raw body viewable), each processing and
status-query attempt with its error, each email and refund — and the repairs:
re-sync a payment from its provider, replay a webhook, hold a payment for review."""

from __future__ import annotations

import asyncio
from functools import partial

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.errors import DomainError
from payflow_app.core.inputs import whole_number
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.operations import console, timeline
from payflow_app.services.payments import inbox, reconciler
from payflow_app.ui.components.admin import console_tabs, is_operator, operator_action, refusal, require_admin
from payflow_app.ui.components.layout import notice, page


class OrderTimelineState(rx.State):
    allowed: bool = False
    refused: bool = False
    missing: bool = False
    summary: dict[str, str] = {}
    payments: list[dict[str, str]] = []
    entries: list[dict[str, str]] = []
    raw_event: str = ""  # the webhook whose raw body is open
    raw_body: str = ""
    review_reason: str = ""
    message: str = ""
    error: str = ""
    _order_id: int = 0

    @rx.event
    async def load(self):
        self.message = self.error = self.raw_event = self.raw_body = ""
        operator = await require_admin(self)
        if not isinstance(operator, SessionUser):
            self.allowed, self.refused = False, operator is None
            return operator
        self.allowed, self.refused = True, False
        self._order_id = whole_number(self.router.page.params.get("order_id", ""), minimum=1) or 0
        await self._reload()
        return None

    async def _reload(self) -> None:
        try:
            story = await asyncio.to_thread(timeline.order_timeline, self._order_id)
        except DomainError:
            self.missing = True
            return
        self.missing = False
        self.summary = {
            "number": story.number,
            "kind": story.kind,
            "status": story.status + (" (provisional)" if story.provisional else ""),
            "amount": story.amount,
        }
        self.payments = [
            {
                "id": str(p.id),
                "provider": p.provider,
                "reference": p.reference,
                "status": p.status,
                "amount": p.amount,
                "note": p.review_reason,
                "flagged": "yes" if p.flagged else "",
                "can_sync": "yes" if p.can_sync else "",
            }
            for p in story.payments
        ]
        self.entries = [
            {
                "at": e.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                "kind": e.kind,
                "title": e.title,
                "detail": e.detail,
                "event_id": str(e.event_id or "") if e.kind == "webhook" else "",
                "tone": "failed" if e.failed else "",
            }
            for e in story.timeline
        ]

    @rx.event
    async def resync(self, payment_id: str):
        if not await is_operator(self):
            return
        if not await asyncio.to_thread(reconciler.claim_payment, int(payment_id)):
            self.error = "This payment cannot be synced now (no provider reference, or a sync is running)."
            return
        answered = await reconciler.sync_payment(int(payment_id), trigger="operator")
        self.message, self.error = (
            f"Asked the provider about payment #{payment_id}."
            if answered
            else f"The provider could not be asked about payment #{payment_id}; see the attempt below.",
            "",
        )
        await self._reload()

    @rx.event
    async def replay(self, event_id: str):
        if not await is_operator(self):
            return
        replay = partial(inbox.replay_event, event_id=int(event_id))
        await operator_action(self, replay, done=f"Webhook {event_id} sent back to the worker.")
        await asyncio.sleep(0.5)  # the worker is woken at once; show its attempt if it is done
        await self._reload()

    @rx.event
    def set_review_reason(self, value: str) -> None:
        self.review_reason = value

    @rx.event
    async def mark_for_review(self, payment_id: str):
        if not await is_operator(self):
            return
        mark = partial(console.mark_for_review, payment_id=int(payment_id), reason=self.review_reason)
        await operator_action(self, mark, done=f"Payment #{payment_id} is held for review.")
        if not self.error:
            self.review_reason = ""
        await self._reload()

    @rx.event
    async def resolve(self, payment_id: str):
        if not await is_operator(self):
            return
        resolve = partial(console.resolve_review, payment_id=int(payment_id))
        await operator_action(self, resolve, done=f"Payment #{payment_id} is no longer waiting for review.")
        await self._reload()

    @rx.event
    async def show_raw(self, event_id: str):
        if not await is_operator(self):
            return
        if self.raw_event == event_id:
            self.raw_event, self.raw_body = "", ""
            return
        _event, body = await asyncio.to_thread(timeline.webhook_body, int(event_id))
        self.raw_event, self.raw_body = event_id, body


def _payment(p: rx.Var) -> rx.Component:
    S = OrderTimelineState
    return rx.el.article(
        rx.el.h2("Payment #" + p["id"] + " · " + p["provider"] + " · " + p["status"]),
        rx.el.p(p["amount"] + " · " + p["reference"], class_name="mono"),
        rx.cond(p["note"] != "", rx.el.p(p["note"])),
        rx.el.div(
            rx.cond(
                p["can_sync"] != "",
                rx.el.button(
                    "Re-sync from provider",
                    type="button",
                    on_click=S.resync(p["id"]),
                    class_name="button small",
                ),
            ),
            rx.el.button(
                "Mark for manual review",
                type="button",
                on_click=S.mark_for_review(p["id"]),
                class_name="button secondary small",
            ),
            rx.cond(
                p["flagged"] != "",
                rx.el.button(
                    "Review done",
                    type="button",
                    on_click=S.resolve(p["id"]),
                    class_name="button secondary small",
                ),
            ),
            class_name="toolbar",
        ),
        class_name="card",
    )


def _entry(e: rx.Var) -> rx.Component:
    S = OrderTimelineState
    return rx.el.li(
        rx.el.span(e["at"], class_name="mono muted"),
        rx.el.strong(" " + e["title"]),
        rx.cond(e["detail"] != "", rx.el.pre(e["detail"], class_name="detail")),
        rx.cond(
            e["event_id"] != "",
            rx.el.div(
                rx.el.button(
                    rx.cond(S.raw_event == e["event_id"], "Hide raw body", "Show raw body"),
                    type="button",
                    on_click=S.show_raw(e["event_id"]),
                    class_name="link",
                ),
                rx.el.button(
                    "Replay",
                    type="button",
                    on_click=S.replay(e["event_id"]),
                    class_name="link",
                    aria_label="Replay webhook " + e["event_id"],
                ),
                rx.cond(S.raw_event == e["event_id"], rx.el.pre(S.raw_body, class_name="raw-body")),
            ),
        ),
        class_name="timeline-entry " + e["tone"],
    )


def _story() -> rx.Component:
    S = OrderTimelineState
    return rx.el.div(
        console_tabs(),
        rx.el.p(
            S.summary["kind"] + " · " + S.summary["amount"] + " · order " + S.summary["status"],
            class_name="muted",
        ),
        rx.cond(S.message != "", notice(S.message)),
        rx.cond(S.error != "", notice(S.error, tone="error")),
        rx.el.label(
            "Reason for review",
            rx.el.input(
                value=S.review_reason,
                on_change=S.set_review_reason,
                placeholder="e.g. customer says they paid twice",
                name="review_reason",
            ),
            class_name="field",
        ),
        rx.el.section(rx.foreach(S.payments, _payment), class_name="cards"),
        rx.el.h2("Timeline"),
        rx.el.ol(rx.foreach(S.entries, _entry), class_name="timeline", aria_label="Timeline"),
    )


def admin_order_page() -> rx.Component:
    S = OrderTimelineState
    return page(
        rx.cond(
            S.allowed,
            rx.cond(
                S.missing,
                rx.el.p("There is no such order.", rx.el.a(" Back to the console", href=urls.ADMIN)),
                _story(),
            ),
            rx.cond(S.refused, refusal(), rx.fragment()),
        ),
        title=rx.cond(S.allowed & ~S.missing, "Order " + S.summary["number"].to(str), ""),
    )
