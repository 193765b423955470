"""Whether an order may still take money for what it buys.

Placing an order judges this once, but between placing and paying the customer may
get the benefit another way: a second tab, twenty parallel requests, a card payment
landing for an older order. So the judgement is made again where the money is
taken — inside the wallet rail's transaction (``purchases.pay_from_wallet``) and
when a provider's success is applied (``fulfilment._decide``) — with the rows it
reads locked first: the customer for a plan, the gallery for a publication. Two
payments for one benefit are judged one after the other; the second is refused
(the wallet debits nothing) or its money goes back (``late_money.refuse``).

A benefit counts as granted once delivered, and already from the moment a payment
for it has succeeded (and is not being refunded): the card rail delivers in later
transactions than the one that accepts the money."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, select

from payflow_app.core.db import lock
from payflow_app.core.errors import DomainError
from payflow_app.core.states import Kind, PaymentStatus
from payflow_app.models import Gallery, Order, Payment, Refund, User
from payflow_app.services.accounts import plans

# A payment whose money is in: succeeded, and not being refunded.
_MONEY_IN = (Payment.status == PaymentStatus.SUCCEEDED, ~exists().where(col(Refund.payment_id) == Payment.id))


def refusal(session: Session, order: Order) -> DomainError | None:
    """Why ``order`` may not take money now, or None when it may. The rows judged stay
    locked until the caller's transaction ends, so the answer holds while it pays."""
    if order.kind == Kind.PLAN:
        return plan_refusal(session, user_id=order.user_id, plan_code=order.plan_code or "", order=order)
    if order.kind == Kind.GALLERY:
        return _gallery_refusal(session, order)
    return None


def plan_refusal(
    session: Session, *, user_id: int, plan_code: str, order: Order | None = None
) -> DomainError | None:
    """A plan is bought only above the customer's plan and above any plan already
    paid for (``order``: the order being judged, not counted against itself)."""
    chosen = plans.plan(plan_code)
    user = lock(session, User, user_id)
    paid_for = _paid_undelivered(session, order, Order.user_id == user_id, Order.kind == Kind.PLAN)
    granted = max([plans.rank(user.plan_code)] + [plans.rank(o.plan_code or "") for o in paid_for])
    if chosen is None or chosen.rank <= granted:
        return DomainError("You can only upgrade to a higher plan.", code="plan_not_upgrade")
    return None


def _gallery_refusal(session: Session, order: Order) -> DomainError | None:
    gallery = lock(session, Gallery, order.gallery_id)
    if gallery.status == "active":
        return DomainError("This gallery is already published.", code="gallery_active")
    holder = session.get(Payment, gallery.locked_by_payment_id) if gallery.locked_by_payment_id else None
    held_elsewhere = holder is not None and holder.order_id != order.id
    if held_elsewhere or _paid_undelivered(session, order, Order.gallery_id == gallery.id):
        return DomainError("A payment for this gallery is already in progress.", code="gallery_locked")
    return None


def _paid_undelivered(session: Session, order: Order | None, *where: Any) -> list[Order]:
    """Other orders matching ``where`` whose money is in (a succeeded payment that is
    not being refunded) but whose benefit is not delivered yet."""
    query = (
        select(Order)
        .join(Payment, col(Payment.order_id) == Order.id)
        .where(*where, col(Order.delivered_at).is_(None), *_MONEY_IN)
    )
    if order is not None:
        query = query.where(col(Order.id) != order.id)
    return list(session.exec(query).all())


def paid_by_another(session: Session, order: Order, payment: Payment) -> bool:
    """Another payment of ``order`` already holds its money (the order's paid mark
    follows in a later transaction; the caller holds the order's lock)."""
    other = session.exec(
        select(Payment.id).where(Payment.order_id == order.id, col(Payment.id) != payment.id, *_MONEY_IN)
    ).first()
    return other is not None
