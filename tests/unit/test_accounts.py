"""Accounts: guest accounts at checkout, passwords, server-side session tokens."""

import time

import pytest
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.core.errors import InvalidInput
from payflow_app.models import EmailOutbox, User
from payflow_app.services.accounts import customers
from payflow_app.services.accounts.customers import InvalidCredentials
from tests import factories


def _user(email: str) -> User:
    with read_session() as session:
        return session.exec(select(User).where(User.email == email)).one()


def _welcome_password(email: str) -> str:
    with read_session() as session:
        row = session.exec(
            select(EmailOutbox).where(EmailOutbox.recipient == email, EmailOutbox.template == "welcome")
        ).one()
    line = next(line for line in row.body_text.splitlines() if "password" in line.lower() and ":" in line)
    return line.rsplit(":", 1)[1].strip()


def test_guest_checkout_creates_an_account_with_a_hashed_temporary_password(seeded: str) -> None:
    factories.order(email="Grace@Example.com")
    assert _user("grace@example.com").password_hash is None  # nothing to log in with until paid
    factories.paid_order(email="grace@example.com")
    user = _user("grace@example.com")
    password = _welcome_password("grace@example.com")
    assert user.must_change_password and user.role == "customer"
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert password not in user.password_hash
    assert customers.authenticate(email="GRACE@example.com", password=password).id == user.id


def test_an_existing_email_gets_the_order_and_no_second_account_or_welcome(seeded: str) -> None:
    first = factories.paid_order(email="ada@example.com")
    second = factories.paid_order(email="ada@example.com")
    assert first.user_id == second.user_id
    with read_session() as session:
        welcomes = session.exec(select(EmailOutbox).where(EmailOutbox.template == "welcome")).all()
    assert [w.order_id for w in welcomes] == [first.id]


def test_wrong_password_and_unknown_email_are_refused_alike(seeded: str) -> None:
    factories.paid_order(email="ada@example.com")
    with pytest.raises(InvalidCredentials):
        customers.authenticate(email="ada@example.com", password="not-it")
    with pytest.raises(InvalidCredentials):
        customers.authenticate(email="nobody@example.com", password="whatever")


def test_changing_the_temporary_password_ends_the_forced_change_and_old_sessions(seeded: str) -> None:
    factories.paid_order(email="ada@example.com")
    temporary = _welcome_password("ada@example.com")
    user = customers.authenticate(email="ada@example.com", password=temporary)
    old_token = customers.issue_session_token(user)
    assert customers.session_user(old_token).must_change_password  # type: ignore[union-attr]

    with pytest.raises(InvalidInput) as refused:
        customers.change_password(
            user_id=user.id, current_password=temporary, new_password="short", confirm="short"
        )
    assert refused.value.errors == {"new_password": "password.too_short"}
    with pytest.raises(InvalidInput) as refused:
        customers.change_password(
            user_id=user.id,
            current_password="wrong",
            new_password="a-long-password",
            confirm="a-long-password",
        )
    assert refused.value.errors == {"current_password": "password.current_wrong"}

    updated = customers.change_password(
        user_id=user.id, current_password=temporary, new_password="a-long-password", confirm="a-long-password"
    )
    assert not updated.must_change_password
    assert customers.session_user(old_token) is None  # signed before the change
    fresh = customers.session_user(customers.issue_session_token(updated))
    assert fresh is not None and fresh.id == user.id and not fresh.must_change_password
    with pytest.raises(InvalidCredentials):
        customers.authenticate(email="ada@example.com", password=temporary)


def test_session_tokens_expire_and_cannot_be_forged(seeded: str) -> None:
    user = _user("customer@payflow.test")
    assert customers.session_user(customers.issue_session_token(user)).email == "customer@payflow.test"  # type: ignore[union-attr]
    expired = customers.issue_session_token(user, now=time.time() - 8 * 24 * 3600)
    assert customers.session_user(expired) is None
    token = customers.issue_session_token(user)
    assert customers.session_user(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert customers.session_user(str(user.id)) is None
    assert customers.session_user("") is None


def test_seeded_roles_can_log_in(seeded: str) -> None:
    roles = {
        email: customers.authenticate(email=email, password="payflow-demo").role
        for email in ("customer@payflow.test", "organizer@payflow.test", "admin@payflow.test")
    }
    assert roles == {
        "customer@payflow.test": "customer",
        "organizer@payflow.test": "organizer",
        "admin@payflow.test": "admin",
    }
