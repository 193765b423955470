"""``/admin/metrics``: the figures of the last 24 hours with bar charts — webhook
processing time, payment-to-order time, sync success rate, manual-intervention rate,
webhooks per provider per hour — and the raised alerts. The same figures are served
to Prometheus at ``/metrics``. Admins only."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.services import metrics
from payflow_app.services.accounts import SessionUser
from payflow_app.services.metrics import Timing
from payflow_app.ui.components.admin import console_tabs, is_operator, refusal, require_admin
from payflow_app.ui.components.charts import bar_chart, bars
from payflow_app.ui.components.layout import notice, page


def _timing(label: str, timing: Timing) -> dict[str, str]:
    return {
        "label": label,
        "value": f"p50 {timing.p50_seconds:.2f} s · p95 {timing.p95_seconds:.2f} s · max {timing.max_seconds:.2f} s",
        "note": f"{timing.count} in the last 24 hours",
    }


class MetricsState(rx.State):
    allowed: bool = False
    refused: bool = False
    figures: list[dict[str, str]] = []
    timing_bars: list[dict[str, str]] = []
    provider_bars: list[dict[str, str]] = []
    hourly_bars: list[dict[str, str]] = []
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
        self.timing_bars = bars(
            [
                ("webhook p50", round(snap.webhook_processing.p50_seconds, 2)),
                ("webhook p95", round(snap.webhook_processing.p95_seconds, 2)),
                ("payment→order p50", round(snap.payment_to_order.p50_seconds, 2)),
                ("payment→order p95", round(snap.payment_to_order.p95_seconds, 2)),
            ],
            " s",
        )
        self.provider_bars = bars(sorted((p, float(n)) for p, n in snap.events_by_provider.items()))
        self.hourly_bars = bars(
            [(f"{hour:%H}:00 {provider}", float(count)) for hour, provider, count in snap.events_over_time]
        )
        self.alerts = [alert.message for alert in snap.alerts]


def _figure(f: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.div(f["label"], class_name="muted"),
        rx.el.div(f["value"], class_name="figure"),
        rx.el.div(f["note"], class_name="muted small"),
        class_name="card",
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
        rx.el.button("Refresh", type="button", on_click=S.refresh, class_name="button secondary small"),
        rx.el.div(rx.foreach(S.figures, _figure), class_name="figures"),
        bar_chart("Processing times (seconds)", S.timing_bars),
        bar_chart("Webhooks per provider (24 h)", S.provider_bars),
        bar_chart("Webhooks per hour and provider", S.hourly_bars),
    )
    return page(
        rx.cond(S.allowed, body, rx.cond(S.refused, refusal(), rx.fragment())),
        title=rx.cond(S.allowed, "Metrics", ""),
    )
