"""Check-in at the gate: verify what was scanned, redeem the ticket exactly once.

What a gate scans is either a ticket's signed QR token or its number typed by hand.
:func:`check_in` answers with a reason code, pretix-style — ``valid`` or why not:
``already_redeemed`` (naming the first scan's time, gate and operator), ``revoked``,
``unpaid``, ``wrong_event``, ``forged`` (a token whose signature does not hold),
``unknown_ticket`` (a typed number nobody holds) and ``expired``. Every scan is written
down (:class:`CheckInScan`); a redemption is a :class:`CheckIn` row, unique per ticket.

Expired: scanned (offline: at its own ``scanned_at``) after the event's *current*
start plus ``PAYFLOW_TICKET_VALID_HOURS_AFTER_START`` (``tickets.valid_until``), QR
token or typed number alike. The token's own ``exp`` is not what decides here: it
holds the start as it was at signing, and an organizer may have moved the event since
(tokens are not re-signed; see ``services.tickets``). Tokens issued before tickets
had an expiry (no ``exp``) expire the same way.

Exactly once: the ticket row is locked (``SELECT … FOR UPDATE``; SQLite's write
transaction holds the database lock) and the check-in insert runs in a savepoint, so
a concurrent scan at another gate that got there first makes this one answer
``already_redeemed`` instead of failing.

A scanning device (``services.devices``) working offline uploads its scans later;
each carries a nonce, and (device, nonce) is unique, so an upload sent twice is
answered from the first time and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from payflow_app.models import (
    CheckIn,
    CheckInScan,
    Event,
    Order,
    RevokedToken,
    Ticket,
    TicketType,
    User,
    pk,
    utcnow,
)
from payflow_app.services import notify
from payflow_app.services.db import lock, read_session, write_transaction
from payflow_app.services.errors import InvalidInput
from payflow_app.services.states import PAID_ORDER_STATUSES
from payflow_app.services.tickets import InvalidTicketToken, valid_until, verify_ticket_token

# What a typed ticket number can look like (``numbers.ticket_number``: TKT-<time>-<code>).
TICKET_NUMBER = re.compile(r"[A-Z0-9-]{1,40}")
MAX_CODE_LENGTH = 2000  # a ticket's QR token is far shorter


class Reason(StrEnum):
    VALID = "valid"
    ALREADY_REDEEMED = "already_redeemed"
    REVOKED = "revoked"
    UNPAID = "unpaid"
    WRONG_EVENT = "wrong_event"
    FORGED = "forged"
    UNKNOWN_TICKET = "unknown_ticket"
    EXPIRED = "expired"


MESSAGES = {
    Reason.VALID: "Valid",
    Reason.ALREADY_REDEEMED: "Already checked in",
    Reason.REVOKED: "Revoked — this QR code no longer admits anyone",
    Reason.UNPAID: "Not paid — this ticket's order is not paid",
    Reason.WRONG_EVENT: "Wrong event — this ticket is not for this event",
    Reason.FORGED: "Forged — the QR code's signature does not hold",
    Reason.UNKNOWN_TICKET: "Unknown ticket — no ticket has this number",
    Reason.EXPIRED: "Expired — tickets for this event are no longer valid",
}


@dataclass(frozen=True)
class FirstCheckIn:
    at: datetime
    gate: str
    operator: str


@dataclass(frozen=True)
class ScanResult:
    reason: Reason
    ticket_number: str = ""
    holder: str = ""
    ticket_type: str = ""
    first: FirstCheckIn | None = None  # the redemption this scan ran into
    duplicate: bool = False  # an offline scan already uploaded: answered from then

    @property
    def ok(self) -> bool:
        return self.reason is Reason.VALID

    @property
    def message(self) -> str:
        if self.ok:
            return f"Valid — {self.holder}, {self.ticket_type}"
        if self.reason is Reason.ALREADY_REDEEMED and self.first is not None:
            when = self.first.at.strftime("%Y-%m-%d %H:%M:%S UTC")
            return f"Already checked in at {when}, gate {self.first.gate}, by {self.first.operator}"
        return MESSAGES[self.reason]

    def as_json(self) -> dict[str, object]:
        first = self.first
        return {
            "ok": self.ok,
            "reason": self.reason.value,
            "message": self.message,
            "ticket": {"number": self.ticket_number, "holder": self.holder, "type": self.ticket_type}
            if self.ticket_number and self.reason is not Reason.WRONG_EVENT
            else None,
            "first_check_in": {"at": first.at.isoformat(), "gate": first.gate, "operator": first.operator}
            if first
            else None,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True)
class Gate:
    """Who scans where: the gate's name and the operator, and the device if any."""

    event_id: int
    name: str
    operator: str
    user_id: int | None = None
    device_id: int | None = None


def _looks_like_token(code: str) -> bool:
    """A QR token is a JWS (three dot-separated parts); a ticket number is ``TKT-…``."""
    return code.count(".") == 2


def check_in(
    gate: Gate, code: str, *, scanned_at: datetime | None = None, nonce: str | None = None
) -> ScanResult:
    """Verify ``code`` (a QR token or a typed ticket number) for the gate's event and,
    when it is valid, redeem the ticket. Idempotent per (device, nonce)."""
    try:
        return _check_in(gate, code, scanned_at, nonce)
    except IntegrityError:
        # The same upload, sent twice at once: the other request stored the nonce first.
        if nonce is None:
            raise
        with read_session() as session:
            earlier = _uploaded(session, gate, nonce)
        if earlier is None:
            raise
        return earlier


def _check_in(gate: Gate, code: str, scanned_at: datetime | None, nonce: str | None) -> ScanResult:
    code = code.strip()
    if not code:
        raise InvalidInput({"code": "Scan a QR code or type a ticket number."})
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidInput({"code": "This is not a payflow ticket."})
    # Names and operators come from devices and a browser's storage: cut to the columns.
    gate = replace(gate, name=gate.name.strip()[:80] or "Main gate", operator=gate.operator.strip()[:200])
    claims = None
    if _looks_like_token(code):
        try:
            # The event's current start decides expiry (in _redeem), not the token's exp.
            claims = verify_ticket_token(code, check_expiry=False)
        except InvalidTicketToken:
            return _record(gate, None, ScanResult(Reason.FORGED), scanned_at, nonce)
        number = claims.ticket_number
    else:
        number = code.upper()
        if not TICKET_NUMBER.fullmatch(number):
            return _record(gate, number[:40], ScanResult(Reason.UNKNOWN_TICKET), scanned_at, nonce)
    with write_transaction() as session:
        if nonce is not None and (earlier := _uploaded(session, gate, nonce)) is not None:
            return earlier
        ticket, listed = _scanned_ticket(session, number, claims.nonce if claims else None)
        if ticket is None:
            reason = Reason.FORGED if claims is not None else Reason.UNKNOWN_TICKET
            return _record_in(session, gate, ScanResult(reason, ticket_number=number), scanned_at, nonce)
        ticket = lock(session, Ticket, pk(ticket))
        result = _redeem(
            session, gate, ticket, token=code if claims else None, listed=listed, scanned_at=scanned_at
        )
        result = _record_in(session, gate, result, scanned_at, nonce)
    if result.ok:
        notify.publish(checkins_topic(gate.event_id))
    return result


def checkins_topic(event_id: int) -> str:
    """The bus topic of an event's check-ins (the organizer's live dashboard)."""
    return f"checkins:{event_id}"


def _scanned_ticket(session: Session, number: str, nonce: str | None) -> tuple[Ticket | None, bool]:
    """The ticket a scan names, and whether what was scanned is on the revocation list:
    a replaced QR token by its nonce, a replaced ticket number (reissued tickets get a
    new one) by itself."""
    listed = session.exec(
        select(RevokedToken).where(
            RevokedToken.nonce == nonce if nonce is not None else RevokedToken.ticket_number == number
        )
    ).first()
    if listed is not None:
        return session.get(Ticket, listed.ticket_id), True
    return session.exec(select(Ticket).where(Ticket.number == number)).first(), False


def _redeem(
    session: Session,
    gate: Gate,
    ticket: Ticket,
    *,
    token: str | None,
    listed: bool,
    scanned_at: datetime | None,
) -> ScanResult:
    order = session.get(Order, ticket.order_id)
    ticket_type = session.get(TicketType, ticket.ticket_type_id)
    assert order is not None and ticket_type is not None
    if order.event_id != gate.event_id:
        return ScanResult(Reason.WRONG_EVENT, ticket_number=ticket.number)
    holder = session.get(User, order.user_id)
    found = ScanResult(
        Reason.VALID,
        ticket_number=ticket.number,
        holder=holder.full_name if holder else "",
        ticket_type=ticket_type.name,
    )
    if listed or ticket.status == "revoked" or (token is not None and token != ticket.qr_token):
        # Listed: revoked or replaced by a reissue. A token neither current nor listed
        # was never this ticket's. None of them admits anyone.
        return replace(found, reason=Reason.REVOKED)
    if order.status not in PAID_ORDER_STATUSES or ticket.status != "valid":
        return replace(found, reason=Reason.UNPAID)
    event = session.get(Event, gate.event_id)
    assert event is not None
    if (scanned_at or utcnow()) > valid_until(event.starts_at):
        return replace(found, reason=Reason.EXPIRED)
    first = _first_check_in(session, pk(ticket))
    if first is not None:
        return replace(found, reason=Reason.ALREADY_REDEEMED, first=first)
    row = CheckIn(
        ticket_id=pk(ticket),
        event_id=gate.event_id,
        gate=gate.name,
        operator=gate.operator,
        user_id=gate.user_id,
        device_id=gate.device_id,
        scanned_at=scanned_at or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another gate's transaction redeemed it and committed since our check.
        first = _first_check_in(session, pk(ticket))
        if first is None:
            raise
        return replace(found, reason=Reason.ALREADY_REDEEMED, first=first)
    return found


def _first_check_in(session: Session, ticket_id: int) -> FirstCheckIn | None:
    row = session.exec(select(CheckIn).where(CheckIn.ticket_id == ticket_id)).first()
    return FirstCheckIn(at=row.scanned_at, gate=row.gate, operator=row.operator) if row else None


def _record(
    gate: Gate, ticket_number: str | None, result: ScanResult, scanned_at: datetime | None, nonce: str | None
) -> ScanResult:
    with write_transaction() as session:
        if nonce is not None and (earlier := _uploaded(session, gate, nonce)) is not None:
            return earlier
        return _record_in(
            session, gate, replace(result, ticket_number=ticket_number or ""), scanned_at, nonce
        )


def _record_in(
    session: Session, gate: Gate, result: ScanResult, scanned_at: datetime | None, nonce: str | None
) -> ScanResult:
    session.add(
        CheckInScan(
            event_id=gate.event_id,
            device_id=gate.device_id,
            nonce=nonce,
            ticket_number=result.ticket_number or None,
            reason=result.reason.value,
            gate=gate.name,
            operator=gate.operator,
            scanned_at=scanned_at or utcnow(),
        )
    )
    return result


def _uploaded(session: Session, gate: Gate, nonce: str) -> ScanResult | None:
    """The answer given to this device's scan ``nonce`` the first time it came in."""
    earlier = session.exec(
        select(CheckInScan).where(CheckInScan.device_id == gate.device_id, CheckInScan.nonce == nonce)
    ).first()
    if earlier is None:
        return None
    first = None
    holder = ticket_type = ""
    ticket = session.exec(select(Ticket).where(Ticket.number == earlier.ticket_number)).first()
    if ticket is not None and earlier.reason != Reason.WRONG_EVENT:
        first = _first_check_in(session, pk(ticket))
        order = session.get(Order, ticket.order_id)
        user = session.get(User, order.user_id) if order else None
        kind = session.get(TicketType, ticket.ticket_type_id)
        holder, ticket_type = (user.full_name if user else ""), (kind.name if kind else "")
    return ScanResult(
        Reason(earlier.reason),
        ticket_number=earlier.ticket_number or "",
        holder=holder,
        ticket_type=ticket_type,
        first=first if earlier.reason == Reason.ALREADY_REDEEMED else None,
        duplicate=True,
    )


@dataclass(frozen=True)
class OfflineScan:
    nonce: str
    code: str
    scanned_at: datetime


def upload_offline_scans(gate: Gate, scans: Sequence[OfflineScan]) -> list[ScanResult]:
    """Scans a device made without the server, in the order it made them. Each one is
    checked in as if it had just arrived, but at its own time; a nonce seen before is
    answered as it was then (``duplicate``)."""
    return [check_in(gate, scan.code, scanned_at=scan.scanned_at, nonce=scan.nonce) for scan in scans]
