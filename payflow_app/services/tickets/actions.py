"""What an organizer can do to one ticket: send its email again, revoke it, reissue it.

Each action locks the ticket row and is idempotent: the email it queues has a
template key unique to that action (one revocation per ticket, one reissue per new
QR token, one resend per ticket per minute; a reissue replaces the ticket's number, and
a second reissue of the old number changes nothing), so a double click or a retried
request never emails the holder twice. A revoked or replaced QR token goes on the event's
revocation list (:class:`RevokedToken`), which offline scanners download.
"""

from __future__ import annotations

from dataclasses import dataclass

from jose import JWTError, jwt
from sqlmodel import Session, select

from payflow_app.core import notify, numbers
from payflow_app.core.db import lock, write_transaction
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.states import UNISSUED_TICKET_STATUSES, TicketStatus
from payflow_app.emails.outbox import queue_email
from payflow_app.emails.templates import ticket_revoked_email
from payflow_app.models import Event, Order, RevokedToken, Ticket, User, pk, utcnow
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer.events import owned_event
from payflow_app.services.tickets.issue import queue_tickets_email
from payflow_app.services.tickets.tokens import sign_ticket_token


class TicketActionRefused(DomainError):
    code = "ticket_action_refused"


@dataclass(frozen=True)
class ActionResult:
    message: str
    changed: bool  # False: nothing to do (already revoked, already sent this minute)


@dataclass
class _Held:
    ticket: Ticket
    order: Order
    holder: User
    event: Event


def _hold(session: Session, user: SessionUser, number: str) -> _Held:
    """The ticket, locked, if it belongs to one of ``user``'s events."""
    number = number.strip().upper()
    found = session.exec(select(Ticket).where(Ticket.number == number)).first()
    if found is None:
        # A number a reissue replaced still names its ticket (a second click, an old page).
        replaced = session.exec(
            select(RevokedToken.ticket_id).where(RevokedToken.ticket_number == number)
        ).first()
        found = session.get(Ticket, replaced) if replaced is not None else None
    order = session.get(Order, found.order_id) if found else None
    if found is None or order is None or order.event_id is None:
        raise NotFound("No ticket of your events has this number.")
    event = owned_event(session, user, order.event_id)  # NotFound for someone else's
    holder = session.get(User, order.user_id)
    assert holder is not None
    return _Held(lock(session, Ticket, pk(found)), order, holder, event)


def _nonce(token: str) -> str | None:
    """A stored token's nonce, read without checking the signature: a token signed with
    a key since rotated must still go on the revocation list."""
    try:
        return str(jwt.get_unverified_claims(token)["nonce"])
    except (JWTError, KeyError):
        return None


def _revoke_token(session: Session, held: _Held, reason: str) -> None:
    nonce = _nonce(held.ticket.qr_token)
    if nonce is not None:
        session.add(
            RevokedToken(
                ticket_id=pk(held.ticket),
                event_id=pk(held.event),
                nonce=nonce,
                ticket_number=held.ticket.number,
                reason=reason,
            )
        )


def _issued(held: _Held) -> None:
    if held.ticket.status in UNISSUED_TICKET_STATUSES:
        raise TicketActionRefused("This ticket was never paid for: it has no QR code to act on.")


def resend(user: SessionUser, number: str) -> ActionResult:
    """Email the ticket's current QR code to its holder again."""
    with write_transaction() as session:
        held = _hold(session, user, number)
        _issued(held)
        if held.ticket.status == TicketStatus.REVOKED:
            raise TicketActionRefused("This ticket is revoked: there is nothing to resend.")
        minute = utcnow().strftime("%Y%m%d%H%M")
        queued = queue_tickets_email(
            session,
            order=held.order,
            user=held.holder,
            rows=[held.ticket],
            template=f"resend:{held.ticket.id}:{minute}",
        )
    if not queued:
        return ActionResult(
            f"Ticket {held.ticket.number} was already sent to {held.holder.email} a moment ago.", False
        )
    return ActionResult(f"Ticket {held.ticket.number} sent again to {held.holder.email}.", True)


def revoke(user: SessionUser, number: str, *, reason: str) -> ActionResult:
    """The ticket stops admitting anyone; its holder is emailed why."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput({"reason": "Say why the ticket is revoked: the holder is told."})
    if len(reason) > 300:
        raise InvalidInput({"reason": "Keep the reason under 300 characters."})
    with write_transaction() as session:
        held = _hold(session, user, number)
        _issued(held)
        if held.ticket.status == TicketStatus.REVOKED:
            return ActionResult(f"Ticket {held.ticket.number} was already revoked.", False)
        _revoke_token(session, held, "revoked")
        held.ticket.status, held.ticket.revoked_at, held.ticket.revoke_reason = (
            TicketStatus.REVOKED,
            utcnow(),
            reason,
        )
        queue_email(
            session,
            order_id=pk(held.order),
            template=f"revoked:{held.ticket.id}",
            recipient=held.holder.email,
            language=held.holder.language,
            email=ticket_revoked_email(
                held.holder.language,
                full_name=held.holder.full_name,
                order_number=held.order.number,
                event_title=held.event.title,
                ticket_number=held.ticket.number,
                reason=reason,
            ),
        )
    notify.order_changed(pk(held.order), user_id=held.holder.id)
    return ActionResult(f"Ticket {held.ticket.number} is revoked; {held.holder.email} is told why.", True)


def reissue(user: SessionUser, number: str) -> ActionResult:
    """The seat gets a new ticket number and QR code; the old ones go on the revocation
    list (the old email can be shown, or its number typed, at no gate). A check-in
    already made stays: reissuing does not let a ticket in twice. Reissuing a number
    already replaced changes nothing (a double click reissues once)."""
    number = number.strip().upper()
    with write_transaction() as session:
        held = _hold(session, user, number)
        _issued(held)
        if held.ticket.status == TicketStatus.REVOKED:
            raise TicketActionRefused("A revoked ticket cannot be reissued.")
        if held.ticket.number != number:
            return ActionResult(f"Ticket {number} was already reissued as {held.ticket.number}.", False)
        _revoke_token(session, held, "reissued")
        held.ticket.number = numbers.ticket_number()
        held.ticket.qr_token = sign_ticket_token(
            ticket_number=held.ticket.number, event_id=pk(held.event), event_starts_at=held.event.starts_at
        )
        new_nonce = _nonce(held.ticket.qr_token)
        queue_tickets_email(
            session,
            order=held.order,
            user=held.holder,
            rows=[held.ticket],
            template=f"reissued:{held.ticket.id}:{new_nonce}",
            reissued=True,
        )
    notify.order_changed(pk(held.order), user_id=held.holder.id)
    return ActionResult(
        f"Ticket {number} is replaced by {held.ticket.number} with a new QR code, emailed to {held.holder.email}.",
        True,
    )
