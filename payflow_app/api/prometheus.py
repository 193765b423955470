"""The metrics snapshot in Prometheus' terms (one collector, read at scrape time, so
every worker answers the same figures from the database)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from payflow_app.services.operations.metrics import Snapshot, Timing


def _timing(name: str, doc: str, timing: Timing) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["quantile"])
    family.add_metric(["0.5"], timing.p50_seconds)
    family.add_metric(["0.95"], timing.p95_seconds)
    family.add_metric(["1"], timing.max_seconds)
    return family


class SnapshotCollector(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        snap = self.snap
        yield _timing(
            "payflow_webhook_processing_seconds",
            "Stored webhook to processed, last 24 h",
            snap.webhook_processing,
        )
        yield _timing(
            "payflow_payment_to_order_seconds",
            "Provider success to order fulfilled, last 24 h",
            snap.payment_to_order,
        )
        yield GaugeMetricFamily(
            "payflow_sync_attempts", "Status queries, last 24 h", value=snap.sync_attempts
        )
        yield GaugeMetricFamily(
            "payflow_webhook_rejections_not_stored",
            "Refused webhook requests only counted (their source was over its cap), last 24 h",
            value=snap.rejections_not_stored,
        )
        yield GaugeMetricFamily(
            "payflow_sync_success_ratio",
            "Share of status queries answered, last 24 h",
            value=snap.sync_success_rate,
        )
        yield GaugeMetricFamily(
            "payflow_manual_intervention_ratio",
            "Share of payments that needed a person, last 24 h",
            value=snap.manual_intervention_rate,
        )
        events = GaugeMetricFamily(
            "payflow_webhook_events", "Webhooks received, last 24 h", labels=["provider"]
        )
        for provider, count in sorted(snap.events_by_provider.items()):
            events.add_metric([provider], count)
        yield events
        statuses = GaugeMetricFamily(
            "payflow_webhook_events_by_status", "Webhooks received by status, last 24 h", labels=["status"]
        )
        for status, count in sorted(snap.events_by_status.items()):
            statuses.add_metric([status], count)
        yield statuses
        pending = GaugeMetricFamily("payflow_pending_payments", "Payments still pending", labels=["provider"])
        for provider, count in sorted(snap.pending_payments_by_provider.items()):
            pending.add_metric([provider], count)
        yield pending
        alerts = GaugeMetricFamily("payflow_alert", "1 while the alert is raised", labels=["alert"])
        raised = {alert.code for alert in snap.alerts}
        for code in ("webhooks_silent", "sync_failure_rate", "processing_delayed"):
            alerts.add_metric([code], 1 if code in raised else 0)
        yield alerts
