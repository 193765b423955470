"""``/admin/metrics``: the figures of the last 24 hours with charts — webhook
processing and payment-to-order times, webhooks per hour and provider, webhooks by
status, payments per provider and outcome — the sync success and manual-intervention
rates, and the raised alerts. The same figures are served to Prometheus at
``/metrics``. Admins only."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta

import reflex as rx

from payflow_app.core.states import PaymentStatus
from payflow_app.i18n import t
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.operations import metrics
from payflow_app.services.operations.metrics import Snapshot, Timing
from payflow_app.ui.components.admin import console_tabs, is_operator, refusal, require_admin
from payflow_app.ui.components.charts import (
    Row,
    Series,
    chart,
    chart_grid,
    chart_rows,
    count_rows,
    named_series,
)
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.session import SessionState, tr

# The webhook senders, each a series of the hourly chart; anything else is "other".
WEBHOOK_PROVIDERS = {"stripe": "Stripe", "univapay": "UnivaPay", "payhero": "PayHero (M-PESA)"}
# A payment's status, as the outcome the operators' chart counts.
OUTCOMES: dict[str, str] = {
    PaymentStatus.SUCCEEDED: "succeeded",
    PaymentStatus.CREATED: "open",
    PaymentStatus.PENDING: "open",
    PaymentStatus.REQUIRES_REVIEW: "open",
}


def _timing(label: str, timing: Timing) -> dict[str, str]:
    return {
        "label": label,
        "value": f"p50 {timing.p50_seconds:.2f} s · p95 {timing.p95_seconds:.2f} s · max {timing.max_seconds:.2f} s",
        "note": f"{timing.count} in the last 24 hours",
    }


def _hours(snap: Snapshot) -> list[Row]:
    """Webhooks per hour, one series per provider, every hour from the first to the
    last of the window's (a quiet hour shows as a gap, not as nothing)."""
    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for hour, provider, count in snap.events_over_time:
        counts[hour][provider if provider in WEBHOOK_PROVIDERS else "other"] += count
    if not counts:
        return []
    hours, hour = [], min(counts)
    while hour <= max(counts):
        hours.append(hour)
        hour += timedelta(hours=1)
    keys = [*WEBHOOK_PROVIDERS, "other"]
    return chart_rows([f"{h:%H}:00" for h in hours], {k: [counts[h][k] for h in hours] for k in keys})


def _payments(snap: Snapshot) -> list[Row]:
    """Payments created in the window per provider: succeeded, open, not completed."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for provider, status, count in snap.payments_by_provider:
        counts[provider][OUTCOMES.get(status, "closed")] += count
    providers = sorted(counts)
    return chart_rows(
        providers, {k: [counts[p][k] for p in providers] for k in ("succeeded", "open", "closed")}
    )


class MetricsState(rx.State):
    allowed: bool = False
    refused: bool = False
    figures: list[dict[str, str]] = []
    times_chart: list[dict[str, str | float]] = []
    hourly_chart: list[dict[str, str | float]] = []
    status_chart: list[dict[str, str | float]] = []
    payments_chart: list[dict[str, str | float]] = []
    alerts: list[str] = []

    @rx.event
    async def load(self):
        operator = await require_admin(self)
        if not isinstance(operator, SessionUser):
            self.allowed, self.refused = False, operator is None
            return operator
        self.allowed, self.refused = True, False
        await self._reload()
        return None

    @rx.event
    async def refresh(self):
        if await is_operator(self):
            await self._reload()

    async def _reload(self) -> None:
        lang = (await self.get_state(SessionState)).language()
        snap = await asyncio.to_thread(metrics.snapshot)
        self.figures = [
            _timing("Webhook processing time", snap.webhook_processing),
            _timing("Payment-to-order time", snap.payment_to_order),
            {
                "label": "Sync success rate",
                "value": f"{snap.sync_success_rate:.1%}",
                "note": f"{snap.sync_attempts - snap.sync_failures} of {snap.sync_attempts} status queries answered",
            },
            {
                "label": "Manual-intervention rate",
                "value": f"{snap.manual_intervention_rate:.1%}",
                "note": f"{snap.payments_flagged} of {snap.payments_total} payments needed a person",
            },
        ]
        timings = [snap.webhook_processing, snap.payment_to_order]
        self.times_chart = (
            chart_rows(
                [t(lang, "metrics.webhook_processing"), t(lang, "metrics.payment_to_order")],
                {
                    "p50": [round(x.p50_seconds, 2) for x in timings],
                    "p95": [round(x.p95_seconds, 2) for x in timings],
                    "max": [round(x.max_seconds, 2) for x in timings],
                },
            )
            if any(x.count for x in timings)
            else []
        )
        self.hourly_chart = _hours(snap)
        statuses = sorted(snap.events_by_status.items())
        self.status_chart = count_rows(statuses)
        self.payments_chart = _payments(snap)
        self.alerts = [alert.message for alert in snap.alerts]


def _figure(f: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.div(f["label"], class_name="muted"),
        rx.el.div(f["value"], class_name="figure"),
        rx.el.div(f["note"], class_name="muted small"),
        class_name="card",
    )


def _charts() -> rx.Component:
    S = MetricsState
    none = "metrics.chart.none"
    return chart_grid(
        chart(
            "metrics.chart.per_hour",
            S.hourly_chart,
            label_key="chart.col.hour",
            series=[
                *[Series(key, name) for key, name in WEBHOOK_PROVIDERS.items()],
                Series("other", tr("metrics.other")),
            ],
            stacked=True,
            empty_key=none,
            chart_id="chart-webhooks-hourly",
        ),
        chart(
            "metrics.chart.by_status",
            S.status_chart,
            label_key="chart.col.status",
            series="metrics.webhooks",
            empty_key=none,
            chart_id="chart-webhook-status",
        ),
        chart(
            "metrics.chart.payments",
            S.payments_chart,
            label_key="chart.col.provider",
            series=named_series(
                ("succeeded", "metrics.succeeded"),
                ("open", "metrics.open"),
                ("closed", "metrics.not_completed"),
            ),
            stacked=True,
            empty_key=none,
            chart_id="chart-payments",
        ),
        chart(
            "metrics.chart.times",
            S.times_chart,
            label_key="chart.col.measure",
            series=named_series(("p50", "metrics.p50"), ("p95", "metrics.p95"), ("max", "metrics.max")),
            unit=" s",
            empty_key=none,
            chart_id="chart-times",
        ),
    )


def admin_metrics_page() -> rx.Component:
    S = MetricsState
    body = rx.el.div(
        console_tabs(),
        rx.cond(
            S.alerts.length() > 0,
            rx.foreach(S.alerts, lambda alert: notice(alert, tone="error")),
            notice("No alerts: webhooks arrive, status queries succeed, nothing waits."),
        ),
        rx.el.button(
            tr("admin.refresh"), type="button", on_click=S.refresh, class_name="button secondary small"
        ),
        rx.el.div(rx.foreach(S.figures, _figure), class_name="figures"),
        _charts(),
    )
    return page(
        rx.cond(S.allowed, body, rx.cond(S.refused, refusal(), rx.fragment())),
        title=rx.cond(S.allowed, "Metrics", ""),
    )
