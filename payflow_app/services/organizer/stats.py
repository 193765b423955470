"""An event's figures for its organizer: sales per ticket type, revenue per day,
orders by status, the payment rails used, check-ins over time, and the check-in list. Aggregates in SQL
(one GROUP BY each), except the day and quarter-hour buckets, made from a small
number of grouped rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from payflow_app.core.db import read_session
from payflow_app.core.states import PAID_ORDER_STATUSES, PaymentStatus
from payflow_app.models import CheckIn, Order, Payment, Ticket, TicketType, User, pk
from payflow_app.services.organizer.events import SELLING

CHECKIN_BUCKET_MINUTES = 15


@dataclass(frozen=True)
class TypeSales:
    id: int
    name: str
    price_minor: int
    capacity: int
    sold: int  # in paid orders
    held: int  # held for orders awaiting payment
    remaining: int
    checked_in: int


@dataclass(frozen=True)
class EventStats:
    currency: str
    types: list[TypeSales]
    revenue_minor: int
    revenue_per_day: list[tuple[date, int]]  # oldest first, days without sales omitted
    orders_by_status: dict[str, int]
    rails: list[tuple[str, int, int]]  # (provider, payments, amount_minor), most used first
    checkins: list[tuple[datetime, int]]  # quarter-hour buckets, oldest first
    tickets_sold: int
    checked_in: int


def _bucket(moment: datetime) -> datetime:
    return moment.replace(
        minute=moment.minute - moment.minute % CHECKIN_BUCKET_MINUTES, second=0, microsecond=0
    )


def _seats_by_type(session: Session, event_id: int, statuses: tuple[str, ...]) -> dict[int | None, int]:
    """Seats of the event's orders in ``statuses``, per ticket type."""
    rows = session.exec(
        select(Order.ticket_type_id, func.sum(Order.quantity))
        .where(Order.event_id == event_id, col(Order.status).in_(statuses))
        .group_by(col(Order.ticket_type_id))
    ).all()
    return {type_id: int(seats) for type_id, seats in rows}


def event_stats(event_id: int, currency: str) -> EventStats:
    with read_session() as session:
        types = session.exec(
            select(TicketType).where(TicketType.event_id == event_id).order_by(col(TicketType.id))
        ).all()
        sold_by_type, taken_by_type = (
            _seats_by_type(session, event_id, statuses) for statuses in (PAID_ORDER_STATUSES, SELLING)
        )
        checked_by_type = dict(
            session.exec(
                select(Ticket.ticket_type_id, func.count(col(CheckIn.id)))
                .join(Ticket, col(Ticket.id) == CheckIn.ticket_id)
                .where(CheckIn.event_id == event_id)
                .group_by(col(Ticket.ticket_type_id))
            ).all()
        )
        paid_rows = session.exec(
            select(Order.paid_at, Order.amount_minor).where(
                Order.event_id == event_id, col(Order.status).in_(PAID_ORDER_STATUSES)
            )
        ).all()
        by_status = dict(
            session.exec(
                select(Order.status, func.count(col(Order.id)))
                .where(Order.event_id == event_id)
                .group_by(col(Order.status))
            ).all()
        )
        rails = session.exec(
            select(Payment.provider, func.count(col(Payment.id)), func.sum(Payment.amount_minor))
            .join(Order, col(Order.id) == Payment.order_id)
            .where(Order.event_id == event_id, Payment.status == PaymentStatus.SUCCEEDED)
            .group_by(col(Payment.provider))
        ).all()
        scans = session.exec(select(CheckIn.scanned_at).where(CheckIn.event_id == event_id)).all()
    per_day: Counter[date] = Counter()
    for paid_at, amount in paid_rows:
        if paid_at is not None:
            per_day[paid_at.date()] += amount
    buckets = Counter(_bucket(moment) for moment in scans)
    sales = [
        TypeSales(
            id=pk(t),
            name=t.name,
            price_minor=t.price_minor,
            capacity=t.capacity,
            sold=int(sold_by_type.get(pk(t), 0)),
            held=int(taken_by_type.get(pk(t), 0)) - int(sold_by_type.get(pk(t), 0)),
            remaining=max(0, t.capacity - t.reserved),
            checked_in=int(checked_by_type.get(pk(t), 0)),
        )
        for t in types
    ]
    return EventStats(
        currency=currency,
        types=sales,
        revenue_minor=sum(amount for _, amount in paid_rows),
        revenue_per_day=sorted(per_day.items()),
        orders_by_status={str(k): int(v) for k, v in by_status.items()},
        rails=sorted(((str(p), int(n), int(a or 0)) for p, n, a in rails), key=lambda r: -r[1]),
        checkins=_filled(buckets),
        tickets_sold=sum(s.sold for s in sales),
        checked_in=len(scans),
    )


def _filled(buckets: Counter[datetime]) -> list[tuple[datetime, int]]:
    """Quarter-hours from the first check-in to the last, empty ones included (a chart
    over time must show the lulls), at most the last 96 (a day)."""
    if not buckets:
        return []
    step = timedelta(minutes=CHECKIN_BUCKET_MINUTES)
    first, last = min(buckets), max(buckets)
    first = max(first, last - step * 95)
    points = []
    moment = first
    while moment <= last:
        points.append((moment, buckets.get(moment, 0)))
        moment += step
    return points


@dataclass(frozen=True)
class CheckInLine:
    ticket_number: str
    holder: str
    ticket_type: str
    gate: str
    operator: str
    scanned_at: datetime


def check_ins(event_id: int, *, limit: int = 500) -> list[CheckInLine]:
    """The event's check-ins, latest first."""
    with read_session() as session:
        rows = session.exec(
            select(CheckIn, Ticket, TicketType, User)
            .join(Ticket, col(Ticket.id) == CheckIn.ticket_id)
            .join(TicketType, col(TicketType.id) == Ticket.ticket_type_id)
            .join(Order, col(Order.id) == Ticket.order_id)
            .join(User, col(User.id) == Order.user_id)
            .where(CheckIn.event_id == event_id)
            .order_by(col(CheckIn.scanned_at).desc(), col(CheckIn.id).desc())
            .limit(limit)
        ).all()
    return [
        CheckInLine(t.number, u.full_name, tt.name, c.gate, c.operator, c.scanned_at) for c, t, tt, u in rows
    ]
