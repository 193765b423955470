"""What a signed-in customer sees of their account: orders, galleries, plan and
tickets. Cheap reads, always filtered by the customer's own id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.core.errors import NotFound
from payflow_app.core.money import Money
from payflow_app.core.states import UNISSUED_TICKET_STATUSES, Kind, OrderStatus, TicketStatus
from payflow_app.models import CheckIn, Event, Gallery, Order, Ticket, TicketType, User, pk
from payflow_app.services.accounts import plans
from payflow_app.services.payments import order_kinds


@dataclass(frozen=True)
class OrderLine:
    number: str
    kind: str
    description: str
    amount: Money
    status: str
    created_at: datetime


@dataclass(frozen=True)
class GalleryLine:
    id: int
    title: str
    status: str  # draft | active
    payment_in_progress: bool


@dataclass(frozen=True)
class PlanView:
    code: str
    name: str
    storage_limit_mb: int
    gallery_limit: int
    galleries_used: int
    upgrades: list[plans.Plan]


@dataclass(frozen=True)
class TicketCard:
    number: str
    event_title: str
    starts_at: datetime
    venue: str
    ticket_type: str
    status: str  # valid | used (checked in) | revoked
    qr_token: str  # empty for a revoked ticket: its code admits nobody


def orders(*, user_id: int, lang: str = "en", limit: int = 50) -> list[OrderLine]:
    with read_session() as session:
        rows = session.exec(
            select(Order).where(Order.user_id == user_id).order_by(col(Order.id).desc()).limit(limit)
        ).all()
        return [
            OrderLine(
                number=o.number,
                kind=o.kind,
                description=order_kinds.description(session, o, lang),
                amount=Money(o.amount_minor, o.currency),
                status=o.status,
                created_at=o.created_at,
            )
            for o in rows
        ]


def galleries(*, user_id: int) -> list[GalleryLine]:
    with read_session() as session:
        rows = session.exec(select(Gallery).where(Gallery.user_id == user_id).order_by(col(Gallery.id))).all()
        open_ids = set(
            session.exec(
                select(Order.gallery_id).where(
                    Order.user_id == user_id,
                    Order.kind == Kind.GALLERY,
                    col(Order.status).in_([OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT]),
                )
            ).all()
        )
    return [
        GalleryLine(
            id=pk(g),
            title=g.title,
            status=g.status,
            payment_in_progress=g.locked_by_payment_id is not None or g.id in open_ids,
        )
        for g in rows
    ]


def plan_view(*, user_id: int) -> PlanView:
    with read_session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("Unknown account.")
        used = len(session.exec(select(Gallery.id).where(Gallery.user_id == user_id)).all())
    current = plans.plan(user.plan_code) or plans.PLANS["free"]
    return PlanView(
        code=current.code,
        name=current.name,
        storage_limit_mb=user.storage_limit_mb,
        gallery_limit=user.gallery_limit,
        galleries_used=used,
        upgrades=plans.upgrades_from(current.code),
    )


def tickets(*, user_id: int) -> list[TicketCard]:
    """Every ticket of the customer's orders, soonest event first."""
    with read_session() as session:
        rows = session.exec(
            select(Ticket, Event, TicketType)
            .join(Order, col(Order.id) == Ticket.order_id)
            .join(Event, col(Event.id) == Order.event_id)
            .join(TicketType, col(TicketType.id) == Ticket.ticket_type_id)
            .where(Order.user_id == user_id)
            .where(col(Ticket.status).not_in(UNISSUED_TICKET_STATUSES))
            .order_by(col(Event.starts_at), col(Ticket.id))
        ).all()
        used = set(
            session.exec(
                select(CheckIn.ticket_id).where(col(CheckIn.ticket_id).in_([t.id for t, _, _ in rows]))
            ).all()
        )
    return [
        TicketCard(
            number=t.number,
            event_title=e.title,
            starts_at=e.starts_at,
            venue=e.venue,
            ticket_type=tt.name,
            status="used" if t.id in used and t.status == TicketStatus.VALID else t.status,
            qr_token="" if t.status == TicketStatus.REVOKED else t.qr_token,
        )
        for t, e, tt in rows
    ]


def ticket_of(*, user_id: int, number: str) -> TicketCard | None:
    """One of the customer's own tickets; None for anyone else's."""
    return next((t for t in tickets(user_id=user_id) if t.number == number), None)
