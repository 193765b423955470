"""Throttling: password guessing per account and address (delays, then a lock that
expires; an attacker cannot lock the owner out), guest checkouts per address and email,
and the welcome email of a guest account sent only once an order is paid — once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import col, func, select

from payflow_app.core.db import read_session
from payflow_app.core.errors import InvalidInput
from payflow_app.models import EmailOutbox, Order, ThrottleCounter, User, pk, utcnow
from payflow_app.seed import seed
from payflow_app.services.accounts import customers, throttle
from payflow_app.services.accounts.customers import InvalidCredentials
from payflow_app.services.accounts.throttle import TooManyAttempts
from payflow_app.services.checkout.orders import CheckoutForm, place_order
from payflow_app.services.payments.fulfilment import fulfil_payment
from payflow_app.settings import get_settings
from payflow_app.ui.components.payment_choice import wait_text
from tests import factories

VICTIM = "customer@payflow.test"
PASSWORD = "payflow-demo"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The throttle's time, moved by the test (locks and windows expire on it)."""
    fake = Clock()
    monkeypatch.setattr(throttle, "utcnow", fake)
    return fake


def attempt(password: str, *, address: str, login: str = VICTIM) -> str:
    """``ok``, ``wrong`` or ``wait:<seconds>``."""
    try:
        customers.log_in(login=login, password=password, address=address)
    except InvalidCredentials:
        return "wrong"
    except TooManyAttempts as exc:
        return f"wait:{exc.wait_seconds}"
    return "ok"


def test_twenty_wrong_passwords_then_the_right_one_does_not_log_in(seeded: str, clock: Clock) -> None:
    answers = [attempt("guess", address="203.0.113.9") for _ in range(20)]
    assert answers[:5] == ["wrong"] * 5  # five free tries
    assert set(answers[5:]) == {"wait:1"}  # then a delay; refused attempts are not counted
    assert attempt(PASSWORD, address="203.0.113.9") == "wait:1"


def test_growing_delays_then_a_15_minute_lock_that_ends(seeded: str, clock: Clock) -> None:
    address = "203.0.113.9"
    waits = []
    failures = 0
    while failures < throttle.PAIR_LOCK_AFTER:
        answer = attempt("guess", address=address)
        if answer == "wrong":
            failures += 1
        else:
            seconds = int(answer.split(":")[1])
            waits.append(seconds)
            clock.advance(seconds=seconds)
    assert waits == [1, 2, 4, 8, 16]
    # Locked: even the right password waits, and is told how long.
    assert attempt(PASSWORD, address=address) == "wait:900"
    assert wait_text("en", 900) == "Too many attempts. Try again in 15 minutes."
    assert wait_text("pl", 900) == "Zbyt wiele prób. Spróbuj ponownie za 15 min."
    assert wait_text("en", 4) == "Too many attempts. Try again in 4 seconds."
    assert wait_text("en", 1) == "Too many attempts. Try again in a second."
    assert wait_text("en", 61) == "Too many attempts. Try again in 2 minutes."
    # Trying during the lock does not extend it.
    for _ in range(10):
        clock.advance(minutes=1)
        attempt(PASSWORD, address=address)
    assert attempt(PASSWORD, address=address) == "wait:300"
    clock.advance(minutes=5)
    assert attempt(PASSWORD, address=address) == "ok"
    # A success starts the pair again: the next mistake is a plain mistake.
    assert attempt("guess", address=address) == "wrong"


def test_an_attacker_cannot_lock_the_owner_out(seeded: str, clock: Clock) -> None:
    owner = "198.51.100.7"
    assert attempt(PASSWORD, address=owner) == "ok"  # the owner's usual place
    # One attacker address: it locks only itself out of the account.
    answer = ""
    while answer != "wait:900":  # guessing through the delays until the lock
        answer = attempt("guess", address="203.0.113.9")
        if answer.startswith("wait:") and answer != "wait:900":
            clock.advance(seconds=int(answer.split(":")[1]))
    assert attempt(PASSWORD, address="203.0.113.9") == "wait:900"
    assert attempt(PASSWORD, address=owner) == "ok"
    # Many addresses (a botnet), in a later window: the account locks for addresses
    # it has never seen ...
    clock.advance(minutes=15)
    for n in range(throttle.ACCOUNT_LOCK_AFTER // throttle.FREE_FAILURES):
        for _ in range(throttle.FREE_FAILURES):
            assert attempt("guess", address=f"192.0.2.{n}") == "wrong"
    assert attempt(PASSWORD, address="192.0.2.200") == "wait:900"
    # ... but not for the owner's address, and not for ever.
    assert attempt(PASSWORD, address=owner) == "ok"
    clock.advance(minutes=15)
    assert attempt(PASSWORD, address="192.0.2.200") == "ok"


def test_one_address_trying_many_accounts_is_locked(seeded: str, clock: Clock) -> None:
    for n in range(throttle.ADDRESS_LOCK_AFTER):
        assert attempt("guess", address="203.0.113.9", login=f"someone{n}@example.com") == "wrong"
    assert attempt(PASSWORD, address="203.0.113.9").startswith("wait:")
    assert attempt(PASSWORD, address="198.51.100.7") == "ok"
    clock.advance(minutes=15)
    assert attempt(PASSWORD, address="203.0.113.9") == "ok"


def test_twenty_guesses_at_once_get_at_most_five_password_checks(any_db: str) -> None:
    seed()
    start = threading.Barrier(20)

    def guess(_: int) -> str:
        start.wait()
        return attempt("guess", address="203.0.113.9")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(20)))
    assert 1 <= answers.count("wrong") <= throttle.FREE_FAILURES
    assert all(a == "wrong" or a.startswith("wait:") for a in answers)
    assert attempt(PASSWORD, address="203.0.113.9").startswith("wait:")


def _guest_form(email: str, address: str | None = "203.0.113.9") -> CheckoutForm:
    return CheckoutForm(
        full_name="Guest Buyer",
        email=email,
        phone="",
        ticket_type_id=pk(factories.ticket_type()),
        quantity=1,
        client_address=address,
    )


def _orders() -> int:
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(Order)).one())


def test_guest_checkouts_are_limited_per_email_and_address(seeded: str, clock: Clock) -> None:
    # A checkout refused for another reason (no such ticket type) counts nothing.
    with pytest.raises(InvalidInput):
        place_order(form=replace(_guest_form("target@example.com"), ticket_type_id=10**9))
    with read_session() as session:
        assert session.exec(select(ThrottleCounter)).all() == []
    for _ in range(get_settings().checkouts_per_email_per_hour):
        place_order(form=_guest_form("target@example.com"))
    before = _orders()
    with pytest.raises(TooManyAttempts) as refused:
        place_order(form=_guest_form("target@example.com", address="198.51.100.7"))
    assert refused.value.wait_seconds == 3600 and _orders() == before
    # The same address, other emails: up to its own limit.
    for n in range(
        get_settings().checkouts_per_address_per_hour - get_settings().checkouts_per_email_per_hour
    ):
        place_order(form=_guest_form(f"other{n}@example.com"))
    with pytest.raises(TooManyAttempts):
        place_order(form=_guest_form("fresh@example.com"))
    # A signed-in customer's order is not a guest checkout; both limits end after the hour.
    assert place_order(form=_signed_in_form()).id is not None
    clock.advance(hours=1)
    assert place_order(form=_guest_form("target@example.com")).id is not None


def _signed_in_form() -> CheckoutForm:
    with read_session() as session:
        user = session.exec(select(User).where(User.email == VICTIM)).one()
    return CheckoutForm(
        full_name=user.full_name,
        email=user.email,
        phone="",
        ticket_type_id=pk(factories.ticket_type()),
        quantity=1,
        user_id=pk(user),
        client_address="203.0.113.9",
    )


def test_direct_checkout_over_the_limit_answers_429_with_retry_after(http: httpx.Client) -> None:
    from tests.integration.test_card_and_mpesa_api import direct_checkout

    for n in range(get_settings().checkouts_per_email_per_hour):
        placed = direct_checkout(http, email="target@example.co.ke", phone=f"0712 345 6{n:02d}")
        assert placed.status_code == 201, placed.text
    before = _orders()
    refused = direct_checkout(http, email="target@example.co.ke", phone="0712 345 699")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_attempts"
    assert 3500 < int(refused.headers["retry-after"]) <= 3600
    assert _orders() == before


def _welcomes(email: str) -> list[EmailOutbox]:
    with read_session() as session:
        return list(
            session.exec(
                select(EmailOutbox).where(EmailOutbox.recipient == email, EmailOutbox.template == "welcome")
            ).all()
        )


def _account(email: str) -> User:
    with read_session() as session:
        return session.exec(select(User).where(User.email == email)).one()


def test_a_guest_who_abandons_checkout_gets_no_welcome_email(seeded: str) -> None:
    factories.order(email="someone.else@example.com")  # typed by anyone, never paid
    assert _welcomes("someone.else@example.com") == []
    account = _account("someone.else@example.com")
    assert account.password_hash is None  # nothing to log in with
    assert not account.must_change_password  # and nothing to change yet
    with pytest.raises(InvalidCredentials):
        customers.authenticate(email="someone.else@example.com", password="")


def _password_in(row: EmailOutbox) -> str:
    line = next(line for line in row.body_text.splitlines() if "password" in line.lower() and ":" in line)
    return line.rsplit(":", 1)[1].strip()


def test_a_guest_who_pays_gets_exactly_one_welcome_even_with_concurrent_fulfilments(any_db: str) -> None:
    seed()
    email = "new.guest@example.com"
    orders = [factories.order(quantity=1, email=email) for _ in range(2)]
    payments = [factories.pending_payment(o, reference=f"cs_test_welcome_{n}") for n, o in enumerate(orders)]
    jobs: list[Callable[[], object]] = [
        (lambda p=p: fulfil_payment(payment_id=pk(p), truth=factories.paid_truth(p)))
        for p in payments
        for _ in range(3)  # each payment fulfilled three times at once (webhook, landing, reconciler)
    ]
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], object]) -> object:
        start.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(run, jobs))
    welcomes = _welcomes(email)
    assert len(welcomes) == 1
    with read_session() as session:
        paid = session.exec(select(Order).where(col(Order.id).in_([o.id for o in orders]))).all()
    assert {o.status for o in paid} == {"fulfilled"}
    # The emailed password is the one that works (no sender runs here to erase it).
    assert customers.authenticate(email=email, password=_password_in(welcomes[0])).email == email
    assert _account(email).must_change_password


def test_idle_counters_are_forgotten(seeded: str, clock: Clock) -> None:
    assert attempt("guess", address="203.0.113.9") == "wrong"
    clock.advance(days=2)
    assert attempt(PASSWORD, address="198.51.100.7") == "ok"
    with read_session() as session:
        scopes = sorted(row.scope for row in session.exec(select(ThrottleCounter)).all())
    # The attacker's day-old counters are gone; the owner's (a known address) stay.
    assert scopes == ["login_account", "login_address", "login_pair"]
