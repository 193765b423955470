"""Customer accounts: guest accounts created at checkout, passwords (argon2id), and
signed session tokens.

A session token is a JWT (HS256, python-jose) carrying the user id, the password
version and an expiry. It lives in a cookie; the server never trusts a raw user id.
Changing the password bumps the version, so every older token stops working."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jose import JWTError, jwt
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from payflow_app.i18n import normalise
from payflow_app.models import Membership, User, pk
from payflow_app.services.db import lock, read_session, write_transaction
from payflow_app.services.errors import DomainError, InvalidInput
from payflow_app.services.keys import generated_secret
from payflow_app.settings import get_settings

ALGORITHM = "HS256"
MIN_PASSWORD_LENGTH = 10
# No 0/O, 1/l/I: a temporary password is read from an email and typed by hand.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_hasher = PasswordHasher()
# Verified when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


@dataclass(frozen=True)
class SessionUser:
    id: int
    email: str
    full_name: str
    role: str
    language: str
    must_change_password: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def temporary_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def customer_for_checkout(
    session: Session, *, email: str, full_name: str, phone: str | None, language: str
) -> tuple[User, str | None]:
    """The account an order belongs to. A new email creates a customer account with a
    temporary password, answered beside it (to be emailed); a known email attaches
    the order to that account. Safe when two checkouts create the same email at once."""
    email = email.strip().lower()
    existing = session.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        return existing, None
    password = temporary_password()
    user = User(
        email=email,
        full_name=full_name.strip(),
        phone=phone,
        role="customer",
        language=normalise(language),
        password_hash=hash_password(password),
        must_change_password=True,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:  # the same new email, created by a concurrent checkout
        session.expunge(user)
        return session.exec(select(User).where(User.email == email)).one(), None
    return user, password


def authenticate(*, email: str, password: str) -> User:
    """The account of an email and its password, or of a membership's username and
    the password that came with the membership."""
    login = email.strip().lower()
    with read_session() as session:
        if "@" in login:
            user = session.exec(select(User).where(User.email == login)).first()
            password_hash = user.password_hash if user else None
        else:
            membership = session.exec(select(Membership).where(Membership.username == login)).first()
            user = session.get(User, membership.user_id) if membership else None
            password_hash = membership.password_hash if membership else None
    # An unknown login still costs one hash check (verify_password(None, ...)).
    if not verify_password(password_hash, password) or user is None:
        raise InvalidCredentials("The email or password is not right.")
    return user


def password_problems(new_password: str, *, email: str) -> str | None:
    """The i18n key of what is wrong with a new password, or None."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        return "password.too_short"
    if new_password.strip().lower() == email.lower():
        return "password.is_email"
    return None


def change_password(*, user_id: int, current_password: str, new_password: str, confirm: str) -> User:
    """Set a new password (ends the forced change). Raises InvalidInput per field."""
    with write_transaction() as session:
        user = lock(session, User, user_id)
        errors: dict[str, str] = {}
        if not verify_password(user.password_hash, current_password):
            errors["current_password"] = "password.current_wrong"
        problem = password_problems(new_password, email=user.email)
        if problem:
            errors["new_password"] = problem
        elif new_password == current_password:
            errors["new_password"] = "password.same_as_old"
        elif new_password != confirm:
            errors["confirm_password"] = "password.mismatch"
        if errors:
            raise InvalidInput(errors)
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.password_version += 1
        return user


def set_language(*, user_id: int, language: str) -> None:
    with write_transaction() as session:
        lock(session, User, user_id).language = normalise(language)


@lru_cache(maxsize=4)
def _secret(configured: str | None, data_dir: str) -> str:
    if configured:
        return configured
    return generated_secret(data_dir, "session_secret", lambda: secrets.token_urlsafe(48).encode())


def session_secret() -> str:
    settings = get_settings()
    return _secret(settings.session_secret, str(settings.data_dir))


def issue_session_token(user: User, *, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": str(pk(user)),
        "pwv": user.password_version,
        "iat": issued,
        "exp": issued + get_settings().session_lifetime_hours * 3600,
        "typ": "session",
    }
    return str(jwt.encode(claims, session_secret(), algorithm=ALGORITHM))


def session_user(token: str | None) -> SessionUser | None:
    """The signed-in user of a session token; None when it is missing, forged,
    expired, or older than the account's last password change."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, session_secret(), algorithms=[ALGORITHM])
        user_id = int(claims["sub"])
    except (JWTError, KeyError, ValueError):
        return None
    if claims.get("typ") != "session":
        return None
    with read_session() as session:
        user = session.get(User, user_id)
    if user is None or user.password_version != claims.get("pwv"):
        return None
    return SessionUser(
        id=user_id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        language=user.language,
        must_change_password=user.must_change_password,
    )
