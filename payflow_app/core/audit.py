"""The status history behind the operator's timeline: every status an order or a
payment takes is written as a ``status_change`` row in the same flush that moves it,
whichever service moved it. Nothing has to remember to log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, inspect
from sqlmodel import Session

from payflow_app.models import Order, Payment, StatusChange, utcnow


def _changes(session: Session) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Order | Payment):
            continue
        history = inspect(obj).attrs.status.history
        if not history.added:
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0]
        if before == after:
            continue
        order_id, payment_id = (obj.id, None) if isinstance(obj, Order) else (obj.order_id, obj.id)
        rows.append(
            {
                "order_id": order_id,
                "payment_id": payment_id,
                "subject": "order" if payment_id is None else "payment",
                "from_status": None if before is None else str(before),
                "to_status": str(after),
                "at": utcnow(),
            }
        )
    return rows


@event.listens_for(Session, "after_flush")
def _record_status_changes(session: Session, _context: Any) -> None:
    # After the flush new rows have their ids; attribute history is still intact.
    rows = _changes(session)
    if rows:
        session.connection().execute(insert(StatusChange.__table__), rows)  # type: ignore[attr-defined]
