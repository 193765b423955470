"""The figures operators watch, read from the database (so every worker reports the
same numbers): webhook processing time, payment-to-order time, sync success rate,
manual-intervention rate, events per provider over time — and the alerts raised
when something is wrong. The console's metrics page and ``/metrics`` (Prometheus)
both read :func:`snapshot`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Subquery, cast, extract
from sqlmodel import Session, col, func, select

from payflow_app.core.db import is_sqlite, read_session
from payflow_app.core.states import InboxStatus, PaymentStatus
from payflow_app.models import Order, Payment, ProcessingAttempt, RejectionTally, WebhookEvent, utcnow
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
    # (provider, status, count) of the payments created in the window
    payments_by_provider: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def sync_success_rate(self) -> float:
        return 1.0 if self.sync_attempts == 0 else 1 - self.sync_failures / self.sync_attempts

    @property
    def manual_intervention_rate(self) -> float:
        return 0.0 if self.payments_total == 0 else self.payments_flagged / self.payments_total


def snapshot(now: datetime | None = None) -> Snapshot:
    """Every figure is an aggregate computed by the database (counts, GROUP BYs, hour
    buckets, percentiles by ``row_number()``): a busy day's webhooks are not loaded
    into Python. Each step below is one aggregate (or a few)."""
    now = now or utcnow()
    since = now - WINDOW
    with read_session() as session:
        syncs = _sync_counts(session, since)
        payments_total, payments_flagged = _payment_counts(session, since)
        by_provider, by_status = _event_counts(session, since)
        pending = _pending_payments(session)
        snap = Snapshot(
            webhook_processing=_webhook_processing(session, since),
            payment_to_order=_payment_to_order(session, since),
            sync_attempts=sum(syncs.values()),
            sync_failures=syncs.get("error", 0),
            payments_total=payments_total,
            payments_flagged=payments_flagged,
            events_by_provider=by_provider,
            events_by_status=by_status,
            pending_payments_by_provider={provider: count for provider, count, _oldest in pending},
            events_over_time=_events_over_time(session, since),
            rejections_not_stored=_rejections_not_stored(session, since),
            payments_by_provider=_payments_by_provider(session, since),
        )
        alerts = [
            *_silence_alerts(session, pending, now),
            *_sync_alerts(snap),
            *_delay_alerts(session, now),
        ]
    return replace(snap, alerts=alerts)


def _seconds_between(later: Any, earlier: Any) -> Any:
    """SQL for ``later - earlier`` in seconds, to the microsecond on both databases."""
    if is_sqlite():
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" (UTC): whole seconds of the
        # text before the fraction, then the fraction (SQLite's date functions round
        # to milliseconds: 05.9996 would count as 06).
        def whole_seconds(stamp: Any) -> Any:
            return func.strftime("%s", func.substr(stamp, 1, 19))

        whole = whole_seconds(later) - whole_seconds(earlier)
        fraction = cast(func.substr(later, 20), Float) - cast(func.substr(earlier, 20), Float)
        return whole + fraction
    return extract("epoch", later - earlier)


def _timing(session: Session, spans: Subquery) -> Timing:
    """Count, p50, p95 and max of ``spans.c.seconds`` (a negative span — clocks —
    counts as 0): the same figures as :meth:`Timing.of` over the same values."""
    count, longest = session.execute(select(func.count(), func.max(spans.c.seconds))).one()
    if not count:
        return Timing(0, 0.0, 0.0, 0.0)
    p50, p95 = (min(count - 1, int(share * count)) for share in (0.5, 0.95))
    ranked = select(
        spans.c.seconds, (func.row_number().over(order_by=spans.c.seconds) - 1).label("rank")
    ).subquery()
    at = dict(
        session.execute(select(ranked.c.rank, ranked.c.seconds).where(ranked.c.rank.in_((p50, p95)))).all()
    )
    return Timing(int(count), _clamped(at[p50]), _clamped(at[p95]), _clamped(longest))


def _clamped(seconds: float | Decimal) -> float:
    """Spans are whole microseconds: rounded there, they equal ``timedelta.total_seconds``."""
    return max(0.0, round(float(seconds), 6))


def _webhook_processing(session: Session, since: datetime) -> Timing:
    """Stored → processed."""
    received, processed = col(WebhookEvent.received_at), col(WebhookEvent.processed_at)
    spans = (
        select(_seconds_between(processed, received).label("seconds"))
        .where(WebhookEvent.status == InboxStatus.PROCESSED, received >= since, processed.is_not(None))
        .subquery()
    )
    return _timing(session, spans)


def _payment_to_order(session: Session, since: datetime) -> Timing:
    """The provider's success → the order fulfilled."""
    succeeded, completed = col(Payment.succeeded_at), col(Order.completed_at)
    spans = (
        select(_seconds_between(completed, succeeded).label("seconds"))
        .select_from(Payment)
        .join(Order, col(Order.id) == col(Payment.order_id))
        .where(succeeded >= since, completed.is_not(None))
        .subquery()
    )
    return _timing(session, spans)


def _sync_counts(session: Session, since: datetime) -> dict[str, int]:
    rows = session.exec(
        select(ProcessingAttempt.outcome, func.count())
        .where(ProcessingAttempt.kind == "sync", col(ProcessingAttempt.started_at) >= since)
        .group_by(col(ProcessingAttempt.outcome))
    ).all()
    return {outcome: int(count) for outcome, count in rows}


def _payment_counts(session: Session, since: datetime) -> tuple[int, int]:
    """Payments created in the window, and those of them a person had to look at."""
    total, flagged = session.execute(
        select(func.count(), func.count(col(Payment.review_code))).where(col(Payment.created_at) >= since)
    ).one()
    return int(total), int(flagged)


def _payments_by_provider(session: Session, since: datetime) -> list[tuple[str, str, int]]:
    """Payments created in the window, per provider and status."""
    rows = session.exec(
        select(Payment.provider, Payment.status, func.count())
        .where(col(Payment.created_at) >= since)
        .group_by(col(Payment.provider), col(Payment.status))
    ).all()
    return sorted((str(provider), str(status), int(count)) for provider, status, count in rows)


def _event_counts(session: Session, since: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Webhooks stored in the window, per provider and per status."""
    rows = session.exec(
        select(WebhookEvent.provider, WebhookEvent.status, func.count())
        .where(col(WebhookEvent.received_at) >= since)
        .group_by(col(WebhookEvent.provider), col(WebhookEvent.status))
    ).all()
    by_provider: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for provider, status, count in rows:
        by_provider[provider] += int(count)
        by_status[status] += int(count)
    return dict(by_provider), dict(by_status)


def _hour_of(column: Any) -> Any:
    """SQL for the UTC hour a timestamp falls in."""
    if is_sqlite():
        return func.strftime("%Y-%m-%d %H:00:00", column)
    return func.date_trunc("hour", func.timezone("UTC", column))


def _events_over_time(session: Session, since: datetime) -> list[tuple[datetime, str, int]]:
    """(hour, provider, count) of the window's webhooks, for the chart."""
    hour = _hour_of(col(WebhookEvent.received_at)).label("hour")
    rows = session.execute(
        select(hour, WebhookEvent.provider, func.count())
        .where(col(WebhookEvent.received_at) >= since)
        .group_by(hour, col(WebhookEvent.provider))
    ).all()
    return sorted((_utc_hour(bucket), provider, int(count)) for bucket, provider, count in rows)


def _utc_hour(bucket: str | datetime) -> datetime:
    """SQLite answers text, PostgreSQL a timestamp without zone: both are UTC."""
    value = datetime.fromisoformat(bucket) if isinstance(bucket, str) else bucket
    return value.replace(tzinfo=UTC)


def _pending_payments(session: Session) -> list[tuple[str, int, datetime | None]]:
    """Per provider: payments still pending and the oldest of them."""
    rows = session.exec(
        select(Payment.provider, func.count(), func.min(Payment.created_at))
        .where(Payment.status == PaymentStatus.PENDING, Payment.provider != "wallet")
        .group_by(col(Payment.provider))
    ).all()
    return [(provider, int(count), oldest) for provider, count, oldest in rows]


def _rejections_not_stored(session: Session, since: datetime) -> int:
    window = timedelta(seconds=get_settings().rejection_window_seconds)
    dropped = session.exec(
        select(func.coalesce(func.sum(RejectionTally.dropped), 0)).where(
            col(RejectionTally.window_start) >= since - window
        )
    ).one()
    return int(dropped)


def _silence_alerts(
    session: Session, pending: list[tuple[str, int, datetime | None]], now: datetime
) -> list[Alert]:
    """A rail whose payments pend while none of its webhooks came for a while."""
    settings = get_settings()
    silence = timedelta(minutes=settings.alert_webhook_silence_minutes)
    last_webhook = dict(
        session.exec(
            select(WebhookEvent.provider, func.max(WebhookEvent.received_at)).group_by(
                col(WebhookEvent.provider)
            )
        ).all()
    )
    alerts = []
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
    return alerts


def _sync_alerts(snap: Snapshot) -> list[Alert]:
    limit = get_settings().alert_sync_failure_rate
    if snap.sync_attempts < 1 or 1 - snap.sync_success_rate <= limit:
        return []
    return [
        Alert(
            "sync_failure_rate",
            f"{snap.sync_failures} of {snap.sync_attempts} status queries failed in the last 24 hours "
            f"({(1 - snap.sync_success_rate):.0%}, above {limit:.0%}).",
        )
    ]


def _delay_alerts(session: Session, now: datetime) -> list[Alert]:
    """A stored webhook waiting too long for the worker."""
    delay = timedelta(minutes=get_settings().alert_processing_delay_minutes)
    oldest_waiting = session.exec(
        select(func.min(WebhookEvent.received_at)).where(WebhookEvent.status == InboxStatus.PENDING)
    ).one()
    if oldest_waiting is None or oldest_waiting >= now - delay:
        return []
    minutes = (now - oldest_waiting).total_seconds() / 60
    return [
        Alert("processing_delayed", f"A stored webhook has waited {minutes:.0f} minutes to be processed.")
    ]
