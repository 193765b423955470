"""Server-side sessions: who is signed in, kept in the database so that logging out
and changing a password end a session at once.

The browser holds a random token (256 bits) in the ``payflow_session`` cookie, which
only the server sets (HttpOnly; ``api/session.py``); the ``user_session`` table keeps
its SHA-256, so a copy of the table signs nobody in. A session ends when it is revoked
(log out; a password change ends every other session of the account), after
``session_idle_minutes`` without activity, or ``session_lifetime_hours`` after the
login whatever the activity. Activity renews it: ``last_seen_at`` moves, at most once
a minute (one small write then, not one per request).

A page signs someone in through a *login grant*: the login page checks the password
and gets a one-time grant (valid a minute, stored hashed); the page writes it into a
short-lived cookie (``Path=/session``, ``SameSite=Strict``) and navigates to
``/session/grant``, whose answer sets the session cookie. The grant travels in that
cookie, never in a URL: an attacker who gets a grant for his own account cannot make
a victim's browser redeem it (login CSRF), because another site can neither write our
cookies nor make the browser send a Strict one."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import LoginGrant, User, UserSession, pk, utcnow
from payflow_app.settings import get_settings

SESSION_COOKIE = "payflow_session"
GRANT_COOKIE = "payflow_login_grant"
GRANT_LIFETIME = timedelta(seconds=60)
# Activity moves ``last_seen_at`` at most this often.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionUser:
    id: int
    email: str
    full_name: str
    role: str
    language: str
    must_change_password: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for UTC columns read through raw rows."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_session(session: Session, *, user_id: int, now: datetime | None = None) -> str:
    """A new session for the user, in the caller's transaction; answers the token
    for the cookie (the only copy: the table keeps its hash)."""
    started = _now(now)
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_digest(token),
            user_id=user_id,
            created_at=started,
            last_seen_at=started,
            expires_at=started + timedelta(hours=get_settings().session_lifetime_hours),
        )
    )
    return token


def issue_session_token(user: User, *, now: float | None = None) -> str:
    """A new session for a stored user (tools and tests; pages go through a grant)."""
    started = datetime.fromtimestamp(now, UTC) if now is not None else None
    with write_transaction() as session:
        return start_session(session, user_id=pk(user), now=started)


def session_user(token: str | None, *, now: datetime | None = None) -> SessionUser | None:
    """The signed-in user of a session token, renewing the session; None when the
    token is missing or unknown, or its session was revoked, idle too long or expired."""
    if not token or len(token) > 200:
        return None
    moment = _now(now)
    idle_limit = timedelta(minutes=get_settings().session_idle_minutes)
    with read_session() as session:
        row = session.exec(select(UserSession).where(UserSession.token_hash == _digest(token))).first()
        if (
            row is None
            or row.revoked_at is not None
            or _aware(row.expires_at) <= moment
            or _aware(row.last_seen_at) + idle_limit <= moment
        ):
            return None
        user = session.get(User, row.user_id)
    if user is None:
        return None
    if moment - _aware(row.last_seen_at) >= TOUCH_EVERY:
        with write_transaction() as session:
            # Conditional: concurrent requests of one tab write it once.
            session.execute(
                update(UserSession)
                .where(col(UserSession.id) == row.id, col(UserSession.last_seen_at) < moment - TOUCH_EVERY)
                .values(last_seen_at=moment)
            )
    return SessionUser(
        id=pk(user),
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        language=user.language,
        must_change_password=user.must_change_password,
    )


def end_session(token: str | None) -> None:
    """Log out: the session stops working at once, whoever holds a copy of the token."""
    if not token:
        return
    with write_transaction() as session:
        session.execute(
            update(UserSession)
            .where(col(UserSession.token_hash) == _digest(token), col(UserSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )


def end_other_sessions(session: Session, *, user_id: int, keep_token: str | None) -> int:
    """Revoke every session of the user but the one of ``keep_token`` (the tab that
    changed the password stays signed in), in the caller's transaction."""
    query = update(UserSession).where(
        col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)
    )
    if keep_token:
        query = query.where(col(UserSession.token_hash) != _digest(keep_token))
    return int(session.execute(query.values(revoked_at=utcnow())).rowcount or 0)  # type: ignore[attr-defined]


def issue_login_grant(*, user_id: int, next_path: str) -> str:
    """A one-time grant to start a session for a user whose password was just checked."""
    grant = secrets.token_urlsafe(32)
    with write_transaction() as session:
        _forget_ended(session)
        session.add(
            LoginGrant(
                grant_hash=_digest(grant),
                user_id=user_id,
                next_path=safe_next_path(next_path),
                expires_at=utcnow() + GRANT_LIFETIME,
            )
        )
    return grant


def _forget_ended(session: Session) -> None:
    """Delete what can never sign anyone in again (a day after it ended): used or
    expired grants, revoked, idle or expired sessions. Runs with each login."""
    cutoff = utcnow() - timedelta(days=1)
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    session.execute(delete(LoginGrant).where(col(LoginGrant.expires_at) < cutoff))
    session.execute(
        delete(UserSession).where(
            (col(UserSession.expires_at) < cutoff)
            | (col(UserSession.revoked_at) < cutoff)
            | (col(UserSession.last_seen_at) < cutoff - idle)
        )
    )


def redeem_login_grant(grant: str | None) -> tuple[str, str] | None:
    """Use a grant once: answers the new session's token and where to go next, or
    None when the grant is unknown, used or expired. Two redemptions of one grant
    race on one conditional UPDATE: only one of them starts a session."""
    if not grant or len(grant) > 200:
        return None
    now = utcnow()
    with write_transaction() as session:
        used = session.execute(
            update(LoginGrant)
            .where(
                col(LoginGrant.grant_hash) == _digest(grant),
                col(LoginGrant.used_at).is_(None),
                col(LoginGrant.expires_at) > now,
            )
            .values(used_at=now)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = session.exec(select(LoginGrant).where(LoginGrant.grant_hash == _digest(grant))).one()
        token = start_session(session, user_id=row.user_id, now=now)
        return token, safe_next_path(row.next_path)


def safe_next_path(value: str, default: str = "/dashboard") -> str:
    """Only a path of this site: never an open redirect to another host (``//host``,
    ``/\\host``, ``https:…``, control characters)."""
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
        or len(value) > 2000
    ):
        return default
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else default
