"""Scanning devices: an organizer lets a device (a phone, a handheld scanner app) check
in tickets of one event. Its bearer token is shown once; only its SHA-256 is stored.
The device verifies tickets offline with the JWKS key, the event's revocation list
(:func:`revoked_nonces`) and the tickets' current expiry (:func:`tickets_valid_until`),
and calls ``POST /api/checkin`` (``services.tickets.checkin``)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput, NotFound
from payflow_app.models import CheckInDevice, Event, RevokedToken, pk, utcnow
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer.events import owned_event
from payflow_app.services.tickets.tokens import valid_until

DEVICE_TOKEN_PREFIX = "pfd_"
LAST_SEEN_EVERY = timedelta(minutes=1)
# How long a device found by its token is trusted without asking the database again:
# a gate scans many times a second, and a revoked device is refused this much later
# at most (at once in the process that revoked it).
AUTH_CACHE_SECONDS = 5.0
_recent: dict[str, tuple[CheckInDevice, float]] = {}  # token hash → (device, trusted until)


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
    _forget(device_id)
    return True


def device_for_token(token: str) -> CheckInDevice | None:
    """The device a bearer token names, unless it was revoked. Runs on every scan, so
    a device found is remembered for ``AUTH_CACHE_SECONDS`` (:func:`cached_device`)
    and ``last_seen_at`` is written at most once a minute, not at each request."""
    if not token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    token_hash = _hash(token)
    with read_session() as session:
        device = session.exec(select(CheckInDevice).where(CheckInDevice.token_hash == token_hash)).first()
    if device is None or device.revoked_at is not None:
        _recent.pop(token_hash, None)
        return None
    now = utcnow()
    if device.last_seen_at is None or now - device.last_seen_at >= LAST_SEEN_EVERY:
        with write_transaction() as session:
            session.execute(
                update(CheckInDevice).where(col(CheckInDevice.id) == device.id).values(last_seen_at=now)
            )
        device.last_seen_at = now
    _recent[token_hash] = (device, time.monotonic() + AUTH_CACHE_SECONDS)
    return device


def cached_device(token: str) -> CheckInDevice | None:
    """The device :func:`device_for_token` found for this token in the last
    ``AUTH_CACHE_SECONDS``, without touching the database (None: ask it). A device
    revoked in this process is forgotten at once; in another worker it is refused
    within ``AUTH_CACHE_SECONDS``."""
    token_hash = _hash(token)
    found = _recent.get(token_hash)
    if found is None or found[1] < time.monotonic():
        return None
    return found[0]


def _forget(device_id: int) -> None:
    for token_hash, (device, _until) in list(_recent.items()):
        if device.id == device_id:
            _recent.pop(token_hash, None)


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
