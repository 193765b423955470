"""Customer-facing orders are addressed by their public reference (``order.public_id``,
``ord_`` + 128 random bits), never by the row id: holding the reference — the link the
customer was sent to — is what lets a guest follow the order and act on it. A row id,
an order number or a made-up reference finds nothing, exactly like a missing order."""

from __future__ import annotations

import re

from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.core.errors import NotFound
from payflow_app.models import Order, Payment, pk

# The shape ``models.public_order_reference`` makes; anything else is not looked up.
REFERENCE = re.compile(r"ord_[A-Za-z0-9_-]{22}")


def order_by_reference(reference: str) -> tuple[Order, Payment | None]:
    """The order a customer-facing URL names, and its latest payment attempt.
    NotFound for anything that is not an existing order's reference."""
    if not REFERENCE.fullmatch(reference):
        raise NotFound("We could not find this order.")
    with read_session() as session:
        order = session.exec(select(Order).where(Order.public_id == reference)).first()
        if order is None:
            raise NotFound("We could not find this order.")
        payment = session.exec(
            select(Payment).where(Payment.order_id == pk(order)).order_by(col(Payment.id).desc())
        ).first()
        return order, payment
