"""Customer accounts: guest accounts created at checkout, passwords (argon2id), the
welcome email of a new customer. Sessions are ``services.accounts.sessions`` (re-exported here:
``SessionUser``, ``issue_session_token``, ``session_user``).

A guest account is created without a password. Its temporary password is made, and
emailed, only when one of its orders is paid (:func:`welcome_new_customer`): someone
who abandons a checkout, or types another person's email, sends that person nothing."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.core.keys import generated_secret
from payflow_app.emails.outbox import queue_email
from payflow_app.emails.templates import welcome_email
from payflow_app.i18n import normalise, t
from payflow_app.models import Membership, Order, User, pk
from payflow_app.services.accounts import sessions, throttle
from payflow_app.services.accounts.sessions import SessionUser, issue_session_token, session_user
from payflow_app.settings import get_settings

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

__all__ = ["SessionUser", "issue_session_token", "session_user"]  # kept where callers look
MIN_PASSWORD_LENGTH = 10
# No 0/O, 1/l/I: a temporary password is read from an email and typed by hand.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_hasher = PasswordHasher()
# A generated password is 12 characters drawn at random from 56 (~70 bits): out of
# any guesser's reach however cheap each guess, so it is hashed with argon2id's
# lightest settings (under 1 ms instead of ~165 ms of CPU; a rush of sales makes one
# per new customer). A password a person chooses keeps the full cost. Verified by
# the same ``_hasher``: the settings are part of the hash.
_generated_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Verified when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_generated_password(password: str) -> str:
    """For :func:`temporary_password`'s output only (see ``_generated_hasher``)."""
    return _generated_hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def temporary_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


@dataclass(frozen=True)
class NewPassword:
    """A generated password with its hash, made before the write transaction that
    stores it: no other writer waits for argon2 (on SQLite every writer would).
    Unused when the transaction finds it has nothing to give it to."""

    plain: str
    hashed: str


def new_password() -> NewPassword:
    plain = temporary_password()
    return NewPassword(plain, hash_generated_password(plain))


def customer_for_checkout(
    session: Session, *, email: str, full_name: str, phone: str | None, language: str
) -> User:
    """The account an order belongs to. A new email creates a customer account
    without a password (see :func:`welcome_new_customer`); a known email attaches the
    order to that account. Safe when two checkouts create the same email at once."""
    email = email.strip().lower()
    existing = session.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        return existing
    user = User(
        email=email,
        full_name=full_name.strip(),
        phone=phone,
        role="customer",
        language=normalise(language),
        password_hash=None,
        # Nothing to change yet: the forced change comes with the temporary password
        # (a member signing in with membership credentials is not sent to a change
        # that needs a current account password).
        must_change_password=False,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:  # the same new email, created by a concurrent checkout
        session.expunge(user)
        return session.exec(select(User).where(User.email == email)).one()
    return user


def welcome_new_customer(
    session: Session, *, order: Order, user: User, password: NewPassword | None = None
) -> bool:
    """Once one of its orders is paid, a guest account (no password yet) gets a
    temporary password and the welcome email that carries it; True when queued.

    The caller holds the user's row lock (fulfilment's last step), so two orders
    paid at once welcome the customer once: the second finds the password set. The
    password is set in the same transaction as the email is queued, so the email
    always carries the password that works; the outbox forgets it once sent. The
    caller hashes ``password`` before its transaction (:func:`new_password`); without
    one it is hashed here, inside the transaction."""
    if user.password_hash is not None:
        return False
    password = password or new_password()
    user.password_hash = password.hashed
    user.must_change_password = True
    return queue_email(
        session,
        order_id=pk(order),
        template="welcome",
        recipient=user.email,
        language=user.language,
        email=welcome_email(
            user.language,
            full_name=user.full_name,
            email=user.email,
            temporary_password=password.plain,
            login_url=f"{get_settings().public_url}/login",
        ),
    )


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


def log_in(*, login: str, password: str, address: str) -> User:
    """:func:`authenticate`, throttled per account and client address
    (``services.accounts.throttle``): raises TooManyAttempts, without checking the password,
    while the account or the address must wait."""
    throttle.begin_login(login=login, address=address)
    try:
        user = authenticate(email=login, password=password)
    except InvalidCredentials:
        throttle.login_failed(login=login, address=address)
        raise
    throttle.login_succeeded(login=login, address=address)
    return user


def password_problems(new_password: str, *, email: str) -> str | None:
    """The i18n key of what is wrong with a new password, or None."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        return "password.too_short"
    if new_password.strip().lower() == email.lower():
        return "password.is_email"
    return None


def change_password(
    *, user_id: int, current_password: str, new_password: str, confirm: str, keep_session: str | None = None
) -> User:
    """Set a new password (ends the forced change) and end every session of the
    account but ``keep_session`` (the token of the tab that changed it), in one
    transaction. Raises InvalidInput per field."""
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
        sessions.end_other_sessions(session, user_id=user_id, keep_token=keep_session)
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


def customer_errors(*, full_name: str, email: str, lang: str) -> dict[str, str]:
    """What is wrong with a buyer's name and email, in their language."""
    errors: dict[str, str] = {}
    if not full_name.strip():
        errors["full_name"] = t(lang, "checkout.error.full_name")
    elif len(full_name.strip()) > 200:
        errors["full_name"] = t(lang, "checkout.error.name_too_long")
    if not EMAIL_RE.match(email.strip()):
        errors["email"] = t(lang, "checkout.error.email")
    return errors
