"""The figures operators watch, read from the database (so every worker reports the
same numbers): webhook processing time, payment-to-order time, sync success rate,
manual-intervention rate, events per provider over time — and the alerts raised
when something is wrong. The console's metrics page and ``/metrics`` (Prometheus)
both read :func:`snapshot`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, func, select

from payflow_app.models import Order, Payment, ProcessingAttempt, RejectionTally, WebhookEvent, utcnow
from payflow_app.services.db import read_session
from payflow_app.services.states import PaymentStatus
from payflow_app.settings import get_settings

WINDOW = timedelta(hours=24)
BUCKET = timedelta(hours=1)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class Timing:
    count: int
    p50_seconds: float
    p95_seconds: float
    max_seconds: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        return cls(
            len(seconds), _percentile(seconds, 0.5), _percentile(seconds, 0.95), max(seconds, default=0.0)
        )


@dataclass(frozen=True)
class Alert:
    code: str  # webhooks_silent | sync_failure_rate | processing_delayed
    message: str


@dataclass(frozen=True)
class Snapshot:
    webhook_processing: Timing  # stored → processed
    payment_to_order: Timing  # provider success → order fulfilled
    sync_attempts: int
    sync_failures: int
    payments_total: int
    payments_flagged: int
    events_by_provider: dict[str, int]
    events_by_status: dict[str, int]
    pending_payments_by_provider: dict[str, int]
    # (hour, provider, count) for the chart: the last 24 hours
    events_over_time: list[tuple[datetime, str, int]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    # Refused webhook requests only counted: their source was over its storage cap.
    rejections_not_stored: int = 0

    @property
    def sync_success_rate(self) -> float:
        return 1.0 if self.sync_attempts == 0 else 1 - self.sync_failures / self.sync_attempts

    @property
    def manual_intervention_rate(self) -> float:
        return 0.0 if self.payments_total == 0 else self.payments_flagged / self.payments_total


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


def snapshot(now: datetime | None = None) -> Snapshot:
    now = now or utcnow()
    since = now - WINDOW
    settings = get_settings()
    with read_session() as session:
        processed = session.exec(
            select(WebhookEvent.received_at, WebhookEvent.processed_at).where(
                WebhookEvent.status == "processed", col(WebhookEvent.received_at) >= since
            )
        ).all()
        paid = session.exec(
            select(Payment.succeeded_at, Order.completed_at)
            .join(Order, col(Order.id) == col(Payment.order_id))
            .where(col(Payment.succeeded_at) >= since, col(Order.completed_at).is_not(None))
        ).all()
        syncs = session.exec(
            select(ProcessingAttempt.outcome, func.count())
            .where(ProcessingAttempt.kind == "sync", col(ProcessingAttempt.started_at) >= since)
            .group_by(col(ProcessingAttempt.outcome))
        ).all()
        payments_total = session.exec(select(func.count()).where(col(Payment.created_at) >= since)).one()
        payments_flagged = session.exec(
            select(func.count()).where(
                col(Payment.created_at) >= since, col(Payment.review_code).is_not(None)
            )
        ).one()
        events = session.exec(
            select(WebhookEvent.provider, WebhookEvent.status, WebhookEvent.received_at).where(
                col(WebhookEvent.received_at) >= since
            )
        ).all()
        pending = session.exec(
            select(Payment.provider, func.count(), func.min(Payment.created_at))
            .where(Payment.status == PaymentStatus.PENDING, Payment.provider != "wallet")
            .group_by(col(Payment.provider))
        ).all()
        last_webhook = dict(
            session.exec(
                select(WebhookEvent.provider, func.max(WebhookEvent.received_at)).group_by(
                    col(WebhookEvent.provider)
                )
            ).all()
        )
        oldest_waiting = session.exec(
            select(func.min(WebhookEvent.received_at)).where(WebhookEvent.status == "pending")
        ).one()
        not_stored = session.exec(
            select(func.coalesce(func.sum(RejectionTally.dropped), 0)).where(
                col(RejectionTally.window_start)
                >= since - timedelta(seconds=settings.rejection_window_seconds)
            )
        ).one()
    sync_counts = dict(syncs)
    hours: Counter[tuple[datetime, str]] = Counter()
    for provider, _status, received in events:
        hour = received.replace(minute=0, second=0, microsecond=0)
        hours[(hour, provider)] += 1
    snap = Snapshot(
        webhook_processing=Timing.of([s for r, p in processed if (s := _seconds(p, r)) is not None]),
        payment_to_order=Timing.of([s for p, c in paid if (s := _seconds(c, p)) is not None]),
        sync_attempts=sum(sync_counts.values()),
        sync_failures=sync_counts.get("error", 0),
        payments_total=int(payments_total),
        payments_flagged=int(payments_flagged),
        events_by_provider=dict(Counter(provider for provider, _s, _r in events)),
        events_by_status=dict(Counter(status for _p, status, _r in events)),
        pending_payments_by_provider={provider: int(count) for provider, count, _oldest in pending},
        events_over_time=sorted((hour, provider, count) for (hour, provider), count in hours.items()),
        rejections_not_stored=int(not_stored),
    )
    alerts: list[Alert] = []
    silence = timedelta(minutes=settings.alert_webhook_silence_minutes)
    for provider, count, oldest in pending:
        heard = last_webhook.get(provider)
        if oldest is not None and oldest < now - silence and (heard is None or heard < now - silence):
            alerts.append(
                Alert(
                    "webhooks_silent",
                    f"No {provider} webhook for over {settings.alert_webhook_silence_minutes:g} minutes "
                    f"while {count} of its payments are pending.",
                )
            )
    if snap.sync_attempts >= 1 and 1 - snap.sync_success_rate > settings.alert_sync_failure_rate:
        alerts.append(
            Alert(
                "sync_failure_rate",
                f"{snap.sync_failures} of {snap.sync_attempts} status queries failed in the last 24 hours "
                f"({(1 - snap.sync_success_rate):.0%}, above {settings.alert_sync_failure_rate:.0%}).",
            )
        )
    delay = timedelta(minutes=settings.alert_processing_delay_minutes)
    if oldest_waiting is not None and oldest_waiting < now - delay:
        minutes = (now - oldest_waiting).total_seconds() / 60
        alerts.append(
            Alert("processing_delayed", f"A stored webhook has waited {minutes:.0f} minutes to be processed.")
        )
    return Snapshot(**{**snap.__dict__, "alerts": alerts})
