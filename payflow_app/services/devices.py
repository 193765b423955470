"""Scanning devices: an organizer lets a device (a phone, a handheld scanner app) check
in tickets of one event. Its bearer token is shown once; only its SHA-256 is stored.
The device verifies tickets offline with the JWKS key, the event's revocation list
(:func:`revoked_nonces`) and the tickets' current expiry (:func:`tickets_valid_until`),
and calls ``POST /api/checkin`` (``services.checkin``)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from payflow_app.models import CheckInDevice, Event, RevokedToken, pk, utcnow
from payflow_app.services.accounts import SessionUser
from payflow_app.services.db import read_session, write_transaction
from payflow_app.services.errors import InvalidInput, NotFound
from payflow_app.services.organizer import owned_event
from payflow_app.services.tickets import valid_until

DEVICE_TOKEN_PREFIX = "pfd_"
LAST_SEEN_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedDevice:
    id: int
    name: str
    token: str  # shown once


def issue_device(user: SessionUser, *, event_id: int, name: str) -> IssuedDevice:
    """A scanning device for one of ``user``'s events (NotFound for anyone else's)."""
    name = name.strip()
    if not name:
        raise InvalidInput({"name": "Name the gate this device stands at."})
    if len(name) > 80:
        raise InvalidInput({"name": "Keep the gate's name under 80 characters."})
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction() as session:
        owned_event(session, user, event_id)
        device = CheckInDevice(event_id=event_id, name=name, token_hash=_hash(token), issued_by=user.id)
        session.add(device)
        session.flush()
        return IssuedDevice(id=pk(device), name=name, token=token)


def revoke_device(user: SessionUser, *, event_id: int, device_id: int) -> bool:
    """Stops a device of ``user``'s event; False when it was already stopped."""
    with write_transaction() as session:
        owned_event(session, user, event_id)
        device = session.get(CheckInDevice, device_id)
        if device is None or device.event_id != event_id:
            raise NotFound("This event has no such device.")
        if device.revoked_at is not None:
            return False
        device.revoked_at = utcnow()
        return True


def device_for_token(token: str) -> CheckInDevice | None:
    """The device a bearer token names, unless it was revoked. Runs on every scan:
    ``last_seen_at`` is written at most once a minute, not at each request."""
    if not token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    with read_session() as session:
        device = session.exec(select(CheckInDevice).where(CheckInDevice.token_hash == _hash(token))).first()
    if device is None or device.revoked_at is not None:
        return None
    now = utcnow()
    if device.last_seen_at is None or now - device.last_seen_at >= LAST_SEEN_EVERY:
        with write_transaction() as session:
            session.execute(
                update(CheckInDevice).where(col(CheckInDevice.id) == device.id).values(last_seen_at=now)
            )
        device.last_seen_at = now
    return device


def devices(event_id: int) -> list[CheckInDevice]:
    with read_session() as session:
        return list(
            session.exec(
                select(CheckInDevice)
                .where(CheckInDevice.event_id == event_id)
                .order_by(col(CheckInDevice.id))
            ).all()
        )


def revoked_nonces(event_id: int) -> list[str]:
    """The event's revocation list, for scanners that verify offline."""
    with read_session() as session:
        return list(
            session.exec(
                select(RevokedToken.nonce)
                .where(RevokedToken.event_id == event_id)
                .order_by(col(RevokedToken.id))
            ).all()
        )


def tickets_valid_until(event_id: int) -> datetime:
    """When the event's tickets stop admitting anyone, from its current start: it wins
    over the ``exp`` in tokens signed before the event was moved."""
    with read_session() as session:
        event = session.get(Event, event_id)
        if event is None:
            raise NotFound("No such event.")
        return valid_until(event.starts_at)
