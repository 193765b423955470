"""``/admin``: the operator console — a search for the order a customer names (order
or ticket number, email, provider reference; ``?q=`` too), the payments that need
attention as tabs with their counts (held for review, pending past due, paid but not
fulfilled, failed processing, dead-lettered events, amount mismatch, late money),
opening on the first tab that lists something, the raised alerts, "sync now" for
every open payment and "replay" for a stored webhook. Admins only."""

from __future__ import annotations

import asyncio
from functools import partial

import reflex as rx

from payflow_app.core import urls
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.operations import console, metrics
from payflow_app.services.operations.console import MatchedBy, StuckFilter
from payflow_app.services.payments import inbox, reconciler
from payflow_app.ui.components.admin import console_tabs, is_operator, operator_action, refusal, require_admin
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.components.table import scroll_table
from payflow_app.ui.session import tr

FILTER_KEYS = {
    StuckFilter.NEEDS_REVIEW: "admin.filter.needs_review",
    StuckFilter.PENDING_PAST_DUE: "admin.filter.pending_past_due",
    StuckFilter.PAID_NOT_FULFILLED: "admin.filter.paid_not_fulfilled",
    StuckFilter.FAILED_PROCESSING: "admin.filter.failed_processing",
    StuckFilter.DEAD_LETTERED: "admin.filter.dead_lettered",
    StuckFilter.AMOUNT_MISMATCH: "admin.filter.amount_mismatch",
    StuckFilter.LATE_MONEY: "admin.filter.late_money",
}
MATCHED_KEYS = {
    MatchedBy.ORDER_NUMBER: "admin.search.by_order_number",
    MatchedBy.TICKET_NUMBER: "admin.search.by_ticket_number",
    MatchedBy.EMAIL: "admin.search.by_email",
    MatchedBy.PROVIDER_REFERENCE: "admin.search.by_provider_reference",
}


def first_with_rows(counts: dict[str, int]) -> StuckFilter:
    """The tab the console opens on: the first that lists something (the first tab
    when nothing needs attention)."""
    return next((f for f in StuckFilter if counts.get(f.value, 0) > 0), next(iter(StuckFilter)))


class OperatorState(rx.State):
    allowed: bool = False
    refused: bool = False
    selected: str = StuckFilter.NEEDS_REVIEW.value
    counts: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    alerts: list[str] = []
    message: str = ""
    error: str = ""
    syncing: bool = False
    query: str = ""  # the last text searched for; "" when no search is shown
    found: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        self.message = self.error = ""
        operator = await require_admin(self)
        if not isinstance(operator, SessionUser):
            self.allowed, self.refused = False, operator is None
            return operator
        self.allowed, self.refused = True, False
        params = self.router.url.query_parameters
        await self._reload(opening=params.get("filter", ""))
        await self._search(params.get("q", ""))
        return None

    async def _reload(self, *, opening: str | None = None) -> None:
        """Counts, the selected tab's rows and the alerts. ``opening`` is the tab the
        address asks for when the page opens; without a valid one, the first with rows."""
        self.counts = await asyncio.to_thread(console.stuck_counts)
        if opening is not None:
            valid = {f.value for f in StuckFilter}
            self.selected = opening if opening in valid else first_with_rows(self.counts).value
        rows, snap = await asyncio.gather(
            asyncio.to_thread(console.stuck_payments, StuckFilter(self.selected)),
            asyncio.to_thread(metrics.snapshot),
        )
        self.alerts = [alert.message for alert in snap.alerts]
        self.rows = [
            {
                "order": row.order_number,
                "order_href": urls.admin_order_path(row.order_id) if row.order_id else "",
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

    async def _search(self, text: str) -> None:
        self.query = text.strip()[:320]
        hits = await asyncio.to_thread(console.find_orders, self.query) if self.query else []
        self.found = [
            {
                "order": hit.order_number,
                "order_href": urls.admin_order_path(hit.order_id),
                "email": hit.email,
                "amount": hit.amount,
                "status": hit.status,
                "created": hit.created_at.strftime("%Y-%m-%d %H:%M"),
                "matched": hit.matched_by.value,
            }
            for hit in hits
        ]

    @rx.event
    async def search(self, data: dict[str, str]):
        if await is_operator(self):
            await self._search(data.get("q", ""))

    @rx.event
    def clear_search(self):
        self.query, self.found = "", []

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


def _order_link(row: rx.Var) -> rx.Component:
    return rx.cond(row["order_href"] != "", rx.el.a(row["order"], href=row["order_href"]), row["order"])


def _row(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        rx.el.td(_order_link(row)),
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
                    tr("admin.replay"),
                    type="button",
                    on_click=OperatorState.replay(row["event_id"]),
                    class_name="button small",
                    aria_label="Replay event " + row["event_id"],
                ),
            )
        ),
    )


def _found_row(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        rx.el.td(_order_link(row)),
        rx.el.td(row["email"]),
        rx.el.td(row["amount"]),
        rx.el.td(row["status"]),
        rx.el.td(row["created"]),
        rx.el.td(
            rx.match(row["matched"], *[(kind.value, tr(key)) for kind, key in MATCHED_KEYS.items()], "")
        ),
    )


def _search() -> rx.Component:
    S = OperatorState
    return rx.el.section(
        rx.el.form(
            rx.el.label(tr("admin.search.label"), html_for="order-search"),
            rx.el.div(
                rx.el.input(
                    id="order-search",
                    name="q",
                    type="search",
                    placeholder=tr("admin.search.placeholder"),
                    aria_describedby="order-search-hint",
                    auto_complete="off",
                ),
                rx.el.button(tr("admin.search.submit"), type="submit", class_name="button small"),
                class_name="search-row",
            ),
            rx.el.p(tr("admin.search.hint"), id="order-search-hint", class_name="muted small"),
            on_submit=S.search,
            reset_on_submit=False,
            role="search",
            aria_label=tr("admin.search.label"),
        ),
        rx.cond(
            S.query != "",
            rx.el.div(
                rx.cond(
                    S.found.length() > 0,
                    rx.el.div(
                        scroll_table(
                            [
                                tr(key)
                                for key in (
                                    "admin.col.order",
                                    "admin.col.customer",
                                    "admin.col.amount",
                                    "admin.col.status",
                                    "admin.col.created",
                                    "admin.col.matched",
                                )
                            ],
                            S.found,
                            _found_row,
                            label=tr("admin.search.results"),
                        ),
                        class_name="table-scroll",
                    ),
                    rx.el.p(
                        tr("admin.search.none"),
                        " ",
                        rx.el.strong(S.query),
                        ". ",
                        tr("admin.search.none_next"),
                    ),
                ),
                rx.el.button(
                    tr("admin.search.clear"),
                    type="button",
                    on_click=S.clear_search,
                    class_name="button secondary small",
                ),
                role="status",
                class_name="search-results",
            ),
        ),
        class_name="order-search",
    )


def _tab(which: StuckFilter) -> rx.Component:
    S = OperatorState
    chosen = S.selected == which.value
    return rx.el.button(
        tr(FILTER_KEYS[which]),
        rx.el.span(S.counts[which.value], class_name="count"),
        type="button",
        role="tab",
        id=f"tab-{which.value}",
        aria_selected=rx.cond(chosen, "true", "false"),
        aria_controls="filter-panel",
        on_click=S.choose(which.value),
        class_name=rx.cond(chosen, "filter-tab selected", "filter-tab"),
    )


def _filters() -> rx.Component:
    S = OperatorState
    return rx.el.section(
        rx.el.div(
            *[_tab(f) for f in StuckFilter],
            role="tablist",
            aria_label=tr("admin.filters"),
            class_name="filter-tabs",
        ),
        rx.el.div(
            rx.cond(
                S.rows.length() > 0,
                rx.el.div(
                    scroll_table(
                        [
                            tr(key)
                            for key in (
                                "admin.col.order",
                                "admin.col.provider",
                                "admin.col.reference",
                                "admin.col.amount",
                                "admin.col.status",
                                "admin.col.since",
                                "admin.col.why",
                            )
                        ],
                        S.rows,
                        _row,
                        label="Payments needing attention",
                        actions=tr("admin.col.actions"),
                    ),
                    class_name="table-scroll",
                ),
                rx.el.p(tr("admin.filter.empty"), class_name="muted"),
            ),
            id="filter-panel",
            role="tabpanel",
            aria_labelledby="tab-" + S.selected,
        ),
    )


def _console() -> rx.Component:
    S = OperatorState
    return rx.el.div(
        console_tabs(),
        rx.foreach(S.alerts, lambda alert: notice(alert, tone="error")),
        _search(),
        rx.el.div(
            rx.el.button(
                tr("admin.refresh"), type="button", on_click=S.refresh, class_name="button secondary small"
            ),
            rx.el.button(
                rx.cond(S.syncing, tr("admin.syncing"), tr("admin.sync_now")),
                type="button",
                on_click=S.sync_now,
                disabled=S.syncing,
                class_name="button small",
            ),
            class_name="toolbar",
        ),
        rx.cond(S.message != "", notice(S.message)),
        rx.cond(S.error != "", notice(S.error, tone="error")),
        _filters(),
    )


def admin_console_page() -> rx.Component:
    return page(
        rx.cond(OperatorState.allowed, _console(), rx.cond(OperatorState.refused, refusal(), rx.fragment())),
        title=rx.cond(OperatorState.allowed, tr("admin.title"), ""),
    )
