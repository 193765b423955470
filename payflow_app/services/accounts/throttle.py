"""Throttling of password guessing and of guest checkouts.

**Logins** are counted in three counters, each over a 15-minute window:

- *(account, address)*: 5 failures are free; then each attempt waits 1, 2, 4, 8, 16
  seconds after the previous failure; the 10th failure locks this pair for 15 minutes.
- *address* (every account): 30 failures lock the address for 15 minutes — one
  address trying many accounts.
- *account* (every address): 50 failures lock the account for 15 minutes, but only
  for addresses that have never signed into it: an address with a successful login
  to the account in the last 30 days is exempt.

Why this split. A plain per-account lock lets anyone lock a victim out by failing
on purpose, again every 15 minutes, for ever. Per pair only, many addresses (a
botnet) would each get their free tries at one account. So delays and the first
lock fall on the pair (an attacker locks only himself out of that account); the
account-wide lock stops distributed guessing yet spares the places the owner signs
in from, so the owner keeps access while being attacked. Every lock expires by itself,
a success clears the pair, and a refused attempt (waiting or locked) is not counted,
so it never extends a lock.

An attempt is counted *before* the password is checked, in the same transaction as
the checks, and uncounted when it succeeds: 20 guesses sent at once get at most 5
password checks, not 20.

**Guest checkouts** (they create accounts for any email, hold seats and push M-PESA
prompts) are limited per client address and per email in an hour
(``PAYFLOW_CHECKOUTS_PER_ADDRESS_PER_HOUR``, 20; ``…_PER_EMAIL_PER_HOUR``, 10).

Every limit keyed by address needs the client's real address: behind a reverse
proxy, configure it to pass the client's (otherwise everyone shares the proxy's)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from payflow_app.core.db import write_transaction
from payflow_app.core.errors import DomainError
from payflow_app.models import ThrottleCounter, utcnow
from payflow_app.settings import get_settings

WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
FREE_FAILURES = 5
PAIR_LOCK_AFTER = 10
ADDRESS_LOCK_AFTER = 30
ACCOUNT_LOCK_AFTER = 50
KNOWN_ADDRESS_FOR = timedelta(days=30)

CHECKOUT_WINDOW = timedelta(hours=1)


class TooManyAttempts(DomainError):
    """Refused for now; ``wait_seconds`` says for how long (a whole number, ≥ 1)."""

    code = "too_many_attempts"

    def __init__(self, wait: timedelta) -> None:
        self.wait_seconds = max(1, math.ceil(wait.total_seconds()))
        super().__init__(f"Too many attempts: try again in {wait_text(self.wait_seconds)}.")


def wait_text(seconds: int) -> str:
    """``45 seconds`` / ``15 minutes`` (English; pages use their catalogue)."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@dataclass(frozen=True)
class _Key:
    scope: str
    value: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.scope}\0{self.value}".encode()).hexdigest()


def _login_keys(login: str, address: str) -> tuple[_Key, _Key, _Key]:
    account = login.strip().lower()
    return (
        _Key("login_pair", f"{account}\0{address}"),
        _Key("login_address", address),
        _Key("login_account", account),
    )


def _counters(
    session: Session, keys: tuple[_Key, ...], now: datetime, window: timedelta = WINDOW
) -> dict[str, ThrottleCounter]:
    """The keys' counters, created when missing, locked in one global order (no
    deadlock between attempts sharing an address or an account); a counter whose
    window or lock is over starts again from zero."""
    found: dict[str, ThrottleCounter] = {}
    for key in sorted(keys, key=lambda k: k.digest):
        row = _locked(session, key.digest)
        if row is None:
            row = ThrottleCounter(key_hash=key.digest, scope=key.scope, window_started_at=now)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # created by a concurrent attempt: wait for its lock
                if row in session:
                    session.expunge(row)
                row = _locked(session, key.digest)
                assert row is not None
        if row.locked_until is not None and row.locked_until <= now:
            row.locked_until, row.count, row.window_started_at = None, 0, now
        elif row.locked_until is None and row.window_started_at + window <= now:
            row.count, row.window_started_at = 0, now
        found[key.scope] = row
    return found


def _locked(session: Session, digest: str) -> ThrottleCounter | None:
    query = (
        select(ThrottleCounter)
        .where(ThrottleCounter.key_hash == digest)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(query).first()


def begin_login(*, login: str, address: str, now: datetime | None = None) -> None:
    """Count a login attempt before its password is checked, or raise TooManyAttempts
    (nothing counted). Follow with :func:`login_succeeded` or :func:`login_failed`."""
    now = now or utcnow()
    with write_transaction() as session:
        counters = _counters(session, _login_keys(login, address), now)
        pair, by_address, account = (
            counters["login_pair"],
            counters["login_address"],
            counters["login_account"],
        )
        waits = [row.locked_until - now for row in (pair, by_address) if row.locked_until is not None]
        known = pair.last_success_at is not None and pair.last_success_at + KNOWN_ADDRESS_FOR > now
        if account.locked_until is not None and not known:
            waits.append(account.locked_until - now)
        if pair.count >= FREE_FAILURES and pair.last_at is not None:
            waits.append(pair.last_at + timedelta(seconds=2 ** (pair.count - FREE_FAILURES)) - now)
        wait = max(waits, default=timedelta(0))
        if wait > timedelta(0):
            raise TooManyAttempts(wait)
        for row in counters.values():
            row.count += 1
            row.last_at = now


def login_failed(*, login: str, address: str, now: datetime | None = None) -> None:
    """The password was wrong: the attempt stays counted; a threshold reached locks."""
    now = now or utcnow()
    with write_transaction() as session:
        counters = _counters(session, _login_keys(login, address), now)
        limits = {"login_pair": PAIR_LOCK_AFTER, "login_address": ADDRESS_LOCK_AFTER}
        limits["login_account"] = ACCOUNT_LOCK_AFTER
        for scope, row in counters.items():
            if row.count >= limits[scope] and row.locked_until is None:
                row.locked_until = now + LOCK_FOR
            row.last_at = now


def login_succeeded(*, login: str, address: str, now: datetime | None = None) -> None:
    """The password was right: the pair starts again and its address becomes known
    to the account; the attempt is uncounted from the address and account."""
    now = now or utcnow()
    with write_transaction() as session:
        counters = _counters(session, _login_keys(login, address), now)
        pair = counters["login_pair"]
        pair.count, pair.locked_until, pair.last_success_at = 0, None, now
        _forget_idle(session, now)
        for scope in ("login_address", "login_account"):
            counters[scope].count = max(0, counters[scope].count - 1)


def _forget_idle(session: Session, now: datetime) -> None:
    """Delete counters nothing has touched for a day that hold no lock and no known
    address (runs with each successful login, so the table does not only grow)."""
    cutoff = now - timedelta(days=1)
    session.execute(
        delete(ThrottleCounter).where(
            col(ThrottleCounter.last_at) < cutoff,
            (col(ThrottleCounter.locked_until).is_(None)) | (col(ThrottleCounter.locked_until) < now),
            (col(ThrottleCounter.last_success_at).is_(None))
            | (col(ThrottleCounter.last_success_at) < now - KNOWN_ADDRESS_FOR),
        )
    )


def count_guest_checkout(session: Session, *, email: str, address: str, now: datetime | None = None) -> None:
    """Count a guest checkout from a client address in the caller's transaction (the
    checkout's own: a checkout refused for another reason is not counted), or raise
    TooManyAttempts."""
    now = now or utcnow()
    keys = (_Key("checkout_address", address), _Key("checkout_email", email.strip().lower()))
    settings = get_settings()
    limits = {
        "checkout_address": settings.checkouts_per_address_per_hour,
        "checkout_email": settings.checkouts_per_email_per_hour,
    }
    counters = _counters(session, keys, now, CHECKOUT_WINDOW)
    full = [row for scope, row in counters.items() if row.count >= limits[scope]]
    if full:
        raise TooManyAttempts(max(row.window_started_at + CHECKOUT_WINDOW for row in full) - now)
    for row in counters.values():
        row.count += 1
        row.last_at = now
