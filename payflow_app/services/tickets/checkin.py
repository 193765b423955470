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
(tokens are not re-signed; see ``services.tickets.tokens``). Tokens issued before tickets
had an expiry (no ``exp``) expire the same way.

Exactly once: the check-in row is inserted ``ON CONFLICT (ticket_id) DO NOTHING``, so
the unique ticket id decides between gates that scan a ticket at the same moment; the
others answer ``already_redeemed``, naming the one that got there first. A scan is one
read — ticket, order, holder, type, event, revocation list and earlier check-in in one
query — and one write. On SQLite, scans from every gate share transactions (group
commit, :mod:`core.group_commit`); on PostgreSQL a scan is that read and a single
writing statement, with no transaction round trips. A scan and a revocation at the
same moment are ordered as if the scan came first.

A scanning device (``services.tickets.devices``) working offline uploads its scans later;
each carries a nonce, and (device, nonce) is unique, so an upload sent twice is
answered from the first time and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from payflow_app.core import notify
from payflow_app.core.db import autocommit_connection, get_engine, is_sqlite
from payflow_app.core.errors import InvalidInput
from payflow_app.core.group_commit import SharedTransaction
from payflow_app.core.states import PAID_ORDER_STATUSES, TicketStatus
from payflow_app.models import CheckInScan, utcnow
from payflow_app.services.tickets import checkin_rows as rows
from payflow_app.services.tickets.checkin_rows import FirstCheckIn
from payflow_app.services.tickets.tokens import InvalidTicketToken, valid_until, verify_ticket_token

# What a typed ticket number can look like (``numbers.ticket_number``: TKT-<time>-<code>).
TICKET_NUMBER = re.compile(r"[A-Z0-9-]{1,40}")
MAX_CODE_LENGTH = 2000  # a ticket's QR token is far shorter


class Reason(StrEnum):
    VALID = rows.VALID
    ALREADY_REDEEMED = rows.ALREADY_REDEEMED
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
        with get_engine().connect() as connection:
            earlier = _uploaded(connection, gate, nonce)
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
    scanned = _read_code(code)  # before the transaction: the signature check is the costly part
    result = _run_scan(lambda connection: _scan(connection, gate, scanned, scanned_at, nonce))
    if result.ok:
        notify.publish(checkins_topic(gate.event_id))
    return result


def _scan(
    connection: Connection,
    gate: Gate,
    scanned: _Scanned | ScanResult,
    scanned_at: datetime | None,
    nonce: str | None,
) -> ScanResult:
    """The answer to a scan: judged on one read, then redeemed and written down."""
    if nonce is not None and (earlier := _uploaded(connection, gate, nonce)) is not None:
        return earlier
    if isinstance(scanned, ScanResult):  # names no ticket: forged, not a ticket number
        rows.record_scan(connection, _scan_row(gate, scanned, scanned_at, nonce))
        return scanned
    facts = _facts(connection, scanned)
    result = _judge(gate, scanned, facts, scanned_at)
    if facts is None or not result.ok:
        rows.record_scan(connection, _scan_row(gate, result, scanned_at, nonce))
        return result
    if rows.redeem(
        connection,
        _check_in_row(gate, facts.ticket_id, scanned_at),
        _scan_row(gate, result, scanned_at, nonce),
    ):
        return result
    # Another gate's transaction redeemed it since we read: name the scan that did.
    again = _judge(gate, scanned, _facts(connection, scanned), scanned_at)
    if again.ok:
        raise RuntimeError(f"ticket {again.ticket_number}: the check-in it conflicted with is not there")
    return again


def _run_scan(work: Callable[[Connection], ScanResult]) -> ScanResult:
    """SQLite: in the next shared transaction (group commit: one writer at a time, so a
    rush of scans costs one commit per batch, not one each). PostgreSQL: at once,
    statement by statement (autocommit): a read, then one statement that writes."""
    if is_sqlite():
        return _gate_writes.run(work)
    with autocommit_connection() as connection:
        return work(connection)


_gate_writes = SharedTransaction("check-in writer")


def checkins_topic(event_id: int) -> str:
    """The bus topic of an event's check-ins (the organizer's live dashboard)."""
    return f"checkins:{event_id}"


@dataclass(frozen=True)
class _Scanned:
    """What a code names: a ticket number and, for a QR token, the token and its nonce."""

    number: str
    token: str | None = None
    token_nonce: str | None = None


def _read_code(code: str) -> _Scanned | ScanResult:
    """The ticket a code names, or the answer when it names none (forged, not a number)."""
    if _looks_like_token(code):
        try:
            # The event's current start decides expiry (in _judge), not the token's exp.
            claims = verify_ticket_token(code, check_expiry=False)
        except InvalidTicketToken:
            return ScanResult(Reason.FORGED)
        return _Scanned(claims.ticket_number, token=code, token_nonce=claims.nonce)
    number = code.upper()
    if not TICKET_NUMBER.fullmatch(number):
        return ScanResult(Reason.UNKNOWN_TICKET, ticket_number=number[:40])
    return _Scanned(number)


def _facts(connection: Connection, scanned: _Scanned) -> rows.TicketFacts | None:
    return rows.read_facts(connection, number=scanned.number, token_nonce=scanned.token_nonce)


def _judge(
    gate: Gate, scanned: _Scanned, facts: rows.TicketFacts | None, scanned_at: datetime | None
) -> ScanResult:
    """The answer to a scan, from what was read; VALID means it may be redeemed now."""
    if facts is None:
        reason = Reason.FORGED if scanned.token is not None else Reason.UNKNOWN_TICKET
        return ScanResult(reason, ticket_number=scanned.number)
    if facts.event_id != gate.event_id:
        return ScanResult(Reason.WRONG_EVENT, ticket_number=facts.number)
    found = ScanResult(
        Reason.VALID, ticket_number=facts.number, holder=facts.holder, ticket_type=facts.ticket_type
    )
    if facts.listed or facts.status == TicketStatus.REVOKED or (scanned.token not in (None, facts.qr_token)):
        # Listed: revoked or replaced by a reissue. A token neither current nor listed
        # was never this ticket's. None of them admits anyone.
        return replace(found, reason=Reason.REVOKED)
    if facts.order_status not in PAID_ORDER_STATUSES or facts.status != TicketStatus.VALID:
        return replace(found, reason=Reason.UNPAID)
    if (scanned_at or utcnow()) > valid_until(facts.starts_at):
        return replace(found, reason=Reason.EXPIRED)
    if facts.first is not None:
        return replace(found, reason=Reason.ALREADY_REDEEMED, first=facts.first)
    return found


def _check_in_row(gate: Gate, ticket_id: int, scanned_at: datetime | None) -> dict[str, Any]:
    """A :class:`CheckIn`: the ticket let in, where, by whom and when."""
    return {
        "ticket_id": ticket_id,
        "event_id": gate.event_id,
        "gate": gate.name,
        "operator": gate.operator,
        "user_id": gate.user_id,
        "device_id": gate.device_id,
        "scanned_at": scanned_at or utcnow(),
        "recorded_at": utcnow(),
    }


def _scan_row(
    gate: Gate, result: ScanResult, scanned_at: datetime | None, nonce: str | None
) -> dict[str, Any]:
    """A :class:`CheckInScan`: every scan and its answer are written down."""
    return {
        "event_id": gate.event_id,
        "device_id": gate.device_id,
        "nonce": nonce,
        "ticket_number": result.ticket_number or None,
        "reason": result.reason.value,
        "gate": gate.name,
        "operator": gate.operator,
        "scanned_at": scanned_at or utcnow(),
        "recorded_at": utcnow(),
    }


def _uploaded(connection: Connection, gate: Gate, nonce: str) -> ScanResult | None:
    """The answer given to this device's scan ``nonce`` the first time it came in."""
    earlier = connection.execute(
        sa_select(col(CheckInScan.reason), col(CheckInScan.ticket_number)).where(
            col(CheckInScan.device_id) == gate.device_id, col(CheckInScan.nonce) == nonce
        )
    ).first()
    if earlier is None:
        return None
    reason, number = Reason(earlier.reason), earlier.ticket_number
    facts = _facts(connection, _Scanned(number)) if number and reason is not Reason.WRONG_EVENT else None
    return ScanResult(
        reason,
        ticket_number=number or "",
        holder=facts.holder if facts else "",
        ticket_type=facts.ticket_type if facts else "",
        first=facts.first if facts and reason is Reason.ALREADY_REDEEMED else None,
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
