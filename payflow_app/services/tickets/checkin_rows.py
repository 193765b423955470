"""The rows a scan at the gate reads and writes, in as few statements as the database
allows: one query for everything a scan is judged on, and one conditional insert that
redeems the ticket unless it already is (``services.tickets.checkin`` holds the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, Integer, String, bindparam, case, exists, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from payflow_app.models import CheckIn, CheckInScan, Event, Order, RevokedToken, Ticket, TicketType, User

VALID, ALREADY_REDEEMED = "valid", "already_redeemed"  # checkin.Reason's values, written here


@dataclass(frozen=True)
class FirstCheckIn:
    at: datetime
    gate: str
    operator: str


@dataclass(frozen=True)
class TicketFacts:
    """Everything the answer to a scan depends on, read in one query."""

    ticket_id: int
    number: str
    status: str
    qr_token: str
    event_id: int | None
    order_status: str
    holder: str
    ticket_type: str
    starts_at: datetime
    first: FirstCheckIn | None
    listed: bool  # what was scanned is on the revocation list


def _facts_query(*, by_token_nonce: bool) -> Executable:
    """The ticket a scan names with its order, holder, type, event and redemption.

    On the revocation list, what was scanned names the ticket it was revoked from: a
    replaced QR token by its nonce, a replaced ticket number (a reissued ticket has a
    new one) by itself. Otherwise the ticket is the one with the number."""
    listing = (
        sa_select(col(RevokedToken.ticket_id))
        .where(
            col(RevokedToken.nonce) == bindparam("token_nonce")
            if by_token_nonce
            else col(RevokedToken.ticket_number) == bindparam("number")
        )
        .limit(1)
        .scalar_subquery()
    )
    by_number = sa_select(col(Ticket.id)).where(col(Ticket.number) == bindparam("number")).scalar_subquery()
    return (
        sa_select(
            col(Ticket.id),
            col(Ticket.number),
            col(Ticket.status),
            col(Ticket.qr_token),
            col(Order.event_id),
            col(Order.status),
            col(User.full_name),
            col(TicketType.name),
            col(Event.starts_at),
            col(CheckIn.scanned_at),
            col(CheckIn.gate),
            col(CheckIn.operator),
            listing.is_not(None),
        )
        .join(Order, col(Order.id) == col(Ticket.order_id))
        .join(TicketType, col(TicketType.id) == col(Ticket.ticket_type_id))
        .join(User, col(User.id) == col(Order.user_id))
        .join(Event, col(Event.id) == col(Order.event_id))
        .outerjoin(CheckIn, col(CheckIn.ticket_id) == col(Ticket.id))
        .where(col(Ticket.id) == func.coalesce(listing, by_number))
    )


# Built once: SQLAlchemy then reuses each one's compiled SQL.
_FACTS_BY_TOKEN = _facts_query(by_token_nonce=True)
_FACTS_BY_NUMBER = _facts_query(by_token_nonce=False)


def read_facts(connection: Connection, *, number: str, token_nonce: str | None) -> TicketFacts | None:
    """What a scan of ``number`` (and, for a QR token, its ``token_nonce``) is judged on."""
    if token_nonce is not None:
        query, params = _FACTS_BY_TOKEN, {"number": number, "token_nonce": token_nonce}
    else:
        query, params = _FACTS_BY_NUMBER, {"number": number}
    row = connection.execute(query, params).first()
    if row is None:
        return None
    (ticket_id, number, status, qr_token, event_id, order_status, holder, kind, starts_at) = row[:9]
    first_at, first_gate, first_operator, listed = row[9:]
    return TicketFacts(
        ticket_id=ticket_id,
        number=number,
        status=status,
        qr_token=qr_token,
        event_id=event_id,
        order_status=order_status,
        holder=holder,
        ticket_type=kind,
        starts_at=starts_at,
        first=FirstCheckIn(at=first_at, gate=first_gate, operator=first_operator) if first_at else None,
        listed=bool(listed),
    )


def record_scan(connection: Connection, scan: dict[str, Any]) -> None:
    """Write a scan and its answer down (a :class:`CheckInScan` row's values)."""
    connection.execute(_RECORD_SCAN, scan)


def redeem(connection: Connection, check_in: dict[str, Any], scan: dict[str, Any]) -> bool:
    """Insert the :class:`CheckIn` unless the ticket already has one, and write the scan
    down: ``valid``, or ``already_redeemed`` when another gate's transaction got there
    first (only on PostgreSQL: SQLite's write lock is held from the read on). The
    unique ticket id decides between gates that scan it at once (``ON CONFLICT DO
    NOTHING``). PostgreSQL: one statement, both rows or neither."""
    if connection.dialect.name == "postgresql":
        reason: str = connection.execute(_REDEEM_AND_RECORD, {**check_in, **scan}).scalar_one()
        return reason == VALID
    redeemed = connection.execute(_REDEEM, check_in).first() is not None
    record_scan(connection, scan | {"reason": VALID if redeemed else ALREADY_REDEEMED})
    return redeemed


_RECORD_SCAN = sa_insert(CheckInScan)
# INSERT INTO check_in … ON CONFLICT (ticket_id) DO NOTHING RETURNING id
_REDEEM = (
    sqlite.insert(CheckIn).on_conflict_do_nothing(index_elements=["ticket_id"]).returning(col(CheckIn.id))
)


def _redeem_and_record() -> Executable:
    """PostgreSQL, one statement: WITH redeemed AS (INSERT INTO check_in … ON CONFLICT
    DO NOTHING RETURNING id) INSERT INTO check_in_scan … 'valid' if a row was
    inserted, else 'already_redeemed' … RETURNING reason."""
    scanned_at_type = CheckIn.__table__.c.scanned_at.type  # type: ignore[attr-defined]

    def param(name: str, type_: Any) -> Any:
        return bindparam(name, type_=type_)

    redeemed = (
        postgresql.insert(CheckIn)
        .values(
            ticket_id=param("ticket_id", Integer),
            event_id=param("event_id", Integer),
            gate=param("gate", String),
            operator=param("operator", String),
            user_id=param("user_id", Integer),
            device_id=param("device_id", Integer),
            scanned_at=param("scanned_at", scanned_at_type),
            recorded_at=param("recorded_at", scanned_at_type),
        )
        .on_conflict_do_nothing(index_elements=["ticket_id"])
        .returning(col(CheckIn.id))
        .cte("redeemed")
    )
    reason = case((exists(sa_select(redeemed.c.id)), VALID), else_=ALREADY_REDEEMED)
    row = sa_select(
        param("event_id", Integer),
        param("device_id", Integer),
        param("nonce", String),
        param("ticket_number", String),
        reason,
        param("gate", String),
        param("operator", String),
        param("scanned_at", scanned_at_type),
        param("recorded_at", scanned_at_type),
    )
    columns = ["event_id", "device_id", "nonce", "ticket_number", "reason", "gate", "operator"]
    return (
        sa_insert(CheckInScan)
        .from_select([*columns, "scanned_at", "recorded_at"], row)
        .returning(col(CheckInScan.reason))
    )


_REDEEM_AND_RECORD = _redeem_and_record()
