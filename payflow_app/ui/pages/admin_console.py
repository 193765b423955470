"""``/admin``: the operator console — payments that need attention, by filter
(pending past due, paid but not fulfilled, failed processing, dead-lettered events,
amount mismatch, late money, held for review), the raised alerts, "sync now" for
every open payment and "replay" for a stored webhook. Admins only."""

from __future__ import annotations

import asyncio
from functools import partial

import reflex as rx

from payflow_app.services import inbox, metrics, operations, reconciler
from payflow_app.services.accounts import SessionUser
from payflow_app.services.operations import StuckFilter
from payflow_app.ui import routes
from payflow_app.ui.components.admin import console_tabs, is_operator, operator_action, refusal, require_admin
from payflow_app.ui.components.layout import notice, page

FILTER_LABELS = {
    StuckFilter.NEEDS_REVIEW: "Held for review",
    StuckFilter.PENDING_PAST_DUE: "Pending past due",
    StuckFilter.PAID_NOT_FULFILLED: "Paid, not fulfilled",
    StuckFilter.FAILED_PROCESSING: "Failed processing",
    StuckFilter.DEAD_LETTERED: "Dead-lettered events",
    StuckFilter.AMOUNT_MISMATCH: "Amount mismatch",
    StuckFilter.LATE_MONEY: "Late money",
}


class OperatorState(rx.State):
    allowed: bool = False
    refused: bool = False
    selected: str = StuckFilter.NEEDS_REVIEW.value
    filters: list[dict[str, str]] = []
    rows: list[dict[str, str]] = []
    alerts: list[str] = []
    message: str = ""
    error: str = ""
    syncing: bool = False

    @rx.event
    async def load(self):
        self.message = self.error = ""
        operator = await require_admin(self)
        if not isinstance(operator, SessionUser):
            self.allowed, self.refused = False, operator is None
            return operator
        self.allowed, self.refused = True, False
        wanted = self.router.url.query_parameters.get("filter", "")
        if wanted in {f.value for f in StuckFilter}:
            self.selected = wanted
        await self._reload()
        return None

    async def _reload(self) -> None:
        counts, rows, snap = await asyncio.gather(
            asyncio.to_thread(operations.stuck_counts),
            asyncio.to_thread(operations.stuck_payments, StuckFilter(self.selected)),
            asyncio.to_thread(metrics.snapshot),
        )
        self.filters = [
            {"value": f.value, "label": f"{FILTER_LABELS[f]} ({counts[f.value]})"} for f in StuckFilter
        ]
        self.alerts = [alert.message for alert in snap.alerts]
        self.rows = [
            {
                "order": row.order_number,
                "order_href": routes.admin_order_path(row.order_id) if row.order_id else "",
                "event_id": str(row.event_id or ""),
                "provider": row.provider,
                "reference": row.reference,
                "amount": row.amount,
                "status": row.status,
                "since": row.since.strftime("%Y-%m-%d %H:%M:%S"),
                "reason": row.reason,
            }
            for row in rows
        ]

    @rx.event
    async def choose(self, value: str):
        if not await is_operator(self) or value not in {f.value for f in StuckFilter}:
            return
        self.selected, self.message, self.error = value, "", ""
        await self._reload()

    @rx.event
    async def refresh(self):
        if await is_operator(self):
            await self._reload()

    @rx.event(background=True)
    async def sync_now(self):
        async with self:
            if not await is_operator(self) or self.syncing:
                return
            self.syncing, self.message, self.error = True, "", ""
        try:
            report = await reconciler.sync_open_payments_now()
        finally:
            async with self:
                self.syncing = False
        async with self:
            self.message = f"Asked the providers: {report.synced} synced, {report.failed} failed, {report.skipped} skipped."
            await self._reload()

    @rx.event
    async def replay(self, event_id: str):
        if not await is_operator(self):
            return
        replay = partial(inbox.replay_event, event_id=int(event_id))
        await operator_action(self, replay, done=f"Event {event_id} sent back to the worker.")
        await self._reload()


def _row(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        rx.el.td(
            rx.cond(row["order_href"] != "", rx.el.a(row["order"], href=row["order_href"]), row["order"])
        ),
        rx.el.td(row["provider"]),
        rx.el.td(row["reference"], class_name="mono"),
        rx.el.td(row["amount"]),
        rx.el.td(row["status"]),
        rx.el.td(row["since"]),
        rx.el.td(row["reason"]),
        rx.el.td(
            rx.cond(
                row["event_id"] != "",
                rx.el.button(
                    "Replay",
                    type="button",
                    on_click=OperatorState.replay(row["event_id"]),
                    class_name="button small",
                    aria_label="Replay event " + row["event_id"],
                ),
            )
        ),
    )


def _console() -> rx.Component:
    S = OperatorState
    return rx.el.div(
        console_tabs(),
        rx.foreach(S.alerts, lambda alert: notice(alert, tone="error")),
        rx.el.div(
            rx.el.label(
                "Show ",
                rx.el.select(
                    rx.foreach(S.filters, lambda f: rx.el.option(f["label"], value=f["value"])),
                    value=S.selected,
                    on_change=S.choose,
                    aria_label="Filter",
                ),
            ),
            rx.el.button("Refresh", type="button", on_click=S.refresh, class_name="button secondary small"),
            rx.el.button(
                rx.cond(S.syncing, "Syncing…", "Sync open payments now"),
                type="button",
                on_click=S.sync_now,
                disabled=S.syncing,
                class_name="button small",
            ),
            class_name="toolbar",
        ),
        rx.cond(S.message != "", notice(S.message)),
        rx.cond(S.error != "", notice(S.error, tone="error")),
        rx.cond(
            S.rows.length() > 0,
            rx.el.table(
                rx.el.thead(
                    rx.el.tr(
                        *[
                            rx.el.th(h)
                            for h in (
                                "Order",
                                "Provider",
                                "Reference",
                                "Amount",
                                "Status",
                                "Since",
                                "Why",
                                "",
                            )
                        ]
                    )
                ),
                rx.el.tbody(rx.foreach(S.rows, _row)),
                class_name="table",
                tab_index=0,  # scrolls sideways on a phone: reachable from the keyboard
                aria_label="Payments needing attention",
            ),
            rx.el.p("Nothing here: no payment needs attention under this filter.", class_name="muted"),
        ),
    )


def admin_console_page() -> rx.Component:
    return page(
        rx.cond(OperatorState.allowed, _console(), rx.cond(OperatorState.refused, refusal(), rx.fragment())),
        title=rx.cond(OperatorState.allowed, "Operations", ""),
    )
