"""An event's orders and attendees: one line per ticket (the buyer is its holder), and
one per order that has no tickets yet (awaiting payment, cancelled, expired),
searched by name, email, order number or ticket number, filtered by order status,
ticket type and check-in, and exported as CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.core.inputs import whole_number
from payflow_app.models import CheckIn, Order, Ticket, TicketType, User

CSV_COLUMNS = (
    "ticket_number",
    "holder",
    "email",
    "ticket_type",
    "order_number",
    "order_status",
    "ticket_status",
    "checked_in_at",
    "gate",
)


@dataclass(frozen=True)
class AttendeeFilter:
    search: str = ""
    status: str = ""  # an order status, or "" for all
    ticket_type_id: int | None = None
    checked_in: str = ""  # "yes" | "no" | ""


def filter_from(values: Mapping[str, str]) -> AttendeeFilter:
    """Filters as the page's form and the CSV link's query name them:
    ``q``, ``status``, ``type`` (a ticket type id), ``checked_in`` (yes | no)."""
    type_id = values.get("type", "")
    checked_in = values.get("checked_in", "")
    return AttendeeFilter(
        search=values.get("q", "")[:200],
        status=values.get("status", ""),
        ticket_type_id=whole_number(type_id, minimum=1),
        checked_in=checked_in if checked_in in ("yes", "no") else "",
    )


@dataclass(frozen=True)
class Attendee:
    ticket_number: str
    holder: str
    email: str
    ticket_type: str
    order_number: str
    order_status: str
    ticket_status: str
    checked_in_at: datetime | None
    gate: str


def attendees(
    event_id: int, where: AttendeeFilter = AttendeeFilter(), *, limit: int | None = 500
) -> list[Attendee]:
    # From the orders: one paid by card has no tickets until it is fulfilled, and an
    # order awaiting payment or cancelled is listed too (its ticket columns empty).
    query = (
        select(Order, User, Ticket, CheckIn)
        .join(User, col(User.id) == Order.user_id)
        .outerjoin(Ticket, col(Ticket.order_id) == Order.id)
        .outerjoin(CheckIn, col(CheckIn.ticket_id) == Ticket.id)
        .where(Order.event_id == event_id)
        .order_by(col(Order.id).desc(), col(Ticket.seat_index))
    )
    text = where.search.strip().lower()
    if text:
        # A typed % or _ is a character to find, not a wildcard.
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (User.full_name, User.email, Order.number, Ticket.number)
                )
            )
        )
    if where.status:
        query = query.where(Order.status == where.status)
    if where.ticket_type_id is not None:
        query = query.where(Order.ticket_type_id == where.ticket_type_id)
    if where.checked_in == "yes":
        query = query.where(col(CheckIn.id).is_not(None))
    elif where.checked_in == "no":
        query = query.where(col(CheckIn.id).is_(None))
    if limit is not None:
        query = query.limit(limit)
    with read_session() as session:
        rows = session.exec(query).all()
        type_names = dict(
            session.exec(select(TicketType.id, TicketType.name).where(TicketType.event_id == event_id)).all()
        )
    return [
        Attendee(
            ticket_number=ticket.number if ticket else "",
            holder=user.full_name,
            email=user.email,
            ticket_type=type_names.get(order.ticket_type_id, ""),
            order_number=order.number,
            order_status=order.status,
            ticket_status=ticket.status if ticket else "",
            checked_in_at=check_in.scanned_at if check_in else None,
            gate=check_in.gate if check_in else "",
        )
        for order, user, ticket, check_in in rows
    ]


# Where a formula starts: at the start of the cell, or after anything a spreadsheet
# may split a cell at. Every cell is quoted, but a program whose locale lists with ";"
# (or a tab) reads a comma-separated file with its own separator, and quotes it does
# not expect no longer hold: each piece of a cell must be harmless on its own.
_FORMULA_AFTER = re.compile(r"""(^|[,;\t|\r\n])(["\s]*)(?=[=+\-@])""")


def _cell(value: str) -> str:
    """A cell no spreadsheet runs as a formula (CSV injection): ``'`` before a formula
    character that starts the cell or a piece of it, and before a leading tab or CR."""
    value = _FORMULA_AFTER.sub(r"\1\2'", value)
    return "'" + value if value[:1] in ("\t", "\r") else value


def attendees_csv(event_id: int, where: AttendeeFilter = AttendeeFilter()) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for a in attendees(event_id, where, limit=None):
        cells = [
            a.ticket_number,
            a.holder,
            a.email,
            a.ticket_type,
            a.order_number,
            a.order_status,
            a.ticket_status,
            a.checked_in_at.isoformat() if a.checked_in_at else "",
            a.gate,
        ]
        writer.writerow([_cell(cell) for cell in cells])
    return buffer.getvalue()
