"""Who may read and act on an order (issue 12): customer-facing order URLs carry the
order's unguessable reference, not its row id, so orders cannot be listed by counting
and nobody can push M-PESA prompts for someone else's order; and the credentials a
webhook carries in its headers are redacted before they are stored, so operators never
see them."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.core.errors import NotFound
from payflow_app.core.redaction import REDACTED, redact_headers, redact_url, scrub_headers_json
from payflow_app.models import (
    Order,
    Payment,
    SandboxObject,
    TicketType,
    User,
    WebhookEvent,
    public_order_reference,
)
from payflow_app.services.accounts import customers
from payflow_app.services.checkout import lookup
from payflow_app.services.operations import timeline
from payflow_app.settings import get_settings
from tests.conftest import PG_ADMIN_URL, ROOT, _pg_available
from tests.integration.helpers import start_payment

REFERENCE = re.compile(r"ord_[A-Za-z0-9_-]{22}")


# --- helpers ------------------------------------------------------------------------------


def regular_ticket_type() -> int:
    """The seeded KES event's Regular type: the one M-PESA sells."""
    with read_session() as session:
        found = session.exec(select(TicketType).where(TicketType.name == "Regular")).one()
        assert found.id is not None
        return found.id


def mpesa_checkout(http: httpx.Client, phone: str, email: str) -> dict[str, Any]:
    answer = http.post(
        "/api/orders/direct-checkout",
        json={
            "fullName": "Wanjiru Kamau",
            "email": email,
            "phone": phone,
            "ticketTypeId": regular_ticket_type(),
            "quantity": 1,
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def order_row(reference: str) -> Order:
    with read_session() as session:
        return session.exec(select(Order).where(Order.public_id == reference)).one()


def prompts_sent() -> int:
    """STK requests the PayHero sandbox received (each one is a prompt on a phone)."""
    with read_session() as session:
        return len(session.exec(select(SandboxObject).where(SandboxObject.kind == "stk_request")).all())


def payments_of(order_id: int | None) -> list[Payment]:
    with read_session() as session:
        return list(session.exec(select(Payment).where(Payment.order_id == order_id)).all())


def assert_not_found(answer: httpx.Response) -> None:
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    assert set(error) >= {"code", "message"}
    assert "orderNumber" not in answer.text and "ORD-" not in answer.text


# --- order URLs ---------------------------------------------------------------------------


def test_the_checkout_answer_carries_the_reference_and_the_row_id_opens_nothing(http: httpx.Client) -> None:
    placed = mpesa_checkout(http, "0712 345 601", "first@example.co.ke")
    reference = placed["orderId"]
    assert REFERENCE.fullmatch(reference)
    assert placed["orderNumber"].startswith("ORD-")
    assert placed["statusUrl"] == f"/api/orders/{reference}/status"
    assert placed["paymentPage"] == f"/payment/{reference}"
    order = order_row(reference)
    assert order.number == placed["orderNumber"]

    # A guest holding the link (this client has no session cookie) follows the order.
    assert not http.cookies
    status = http.get(placed["statusUrl"])
    assert status.status_code == 200
    assert status.json()["orderId"] == reference and status.json()["orderNumber"] == order.number
    assert status.json()["payment"]["waitingForCustomer"] is True

    # The row id, which once opened the order, answers exactly like a missing order.
    sent = prompts_sent()
    for path in (f"/api/orders/{order.id}/status", "/api/orders/1/status", "/api/orders/999999/status"):
        assert_not_found(http.get(path))
    for path in (f"/api/orders/{order.id}/stk-push", "/api/orders/1/stk-push"):
        assert_not_found(http.post(path, json={"phone": "0799 000 000"}))
    assert prompts_sent() == sent and len(payments_of(order.id)) == 1


def test_every_order_is_listed_by_counting_no_more(http: httpx.Client) -> None:
    placed = [mpesa_checkout(http, f"0712 345 61{i}", f"buyer{i}@example.co.ke") for i in range(3)]
    ids = [order_row(p["orderId"]).id for p in placed]
    assert ids == sorted(ids)  # the row ids are sequential …
    for order_id in range(1, max(ids) + 3):  # … and counting through them finds nothing
        assert_not_found(http.get(f"/api/orders/{order_id}/status"))
    for p in placed:
        assert http.get(f"/api/orders/{p['orderId']}/status").status_code == 200


def test_stk_push_is_for_the_holder_of_that_orders_reference_only(http: httpx.Client) -> None:
    placed = mpesa_checkout(http, "0712 345 620", "holder@example.co.ke")
    reference = placed["orderId"]
    order = order_row(reference)
    card_order, _ = start_payment(quantity=1)  # another order, of another rail (Stripe)
    sent = prompts_sent()

    refused = [
        card_order.public_id,  # a real order's reference, but not an M-PESA order
        public_order_reference(),  # well-formed, made up
        reference[:-1] + ("A" if reference[-1] != "A" else "B"),  # one character off
        reference.upper(),
        order.number,
        "ord_",
        "ord_" + "A" * 200,
    ]
    for other in refused:
        assert_not_found(http.post(f"/api/orders/{other}/stk-push", json={"phone": "0799 000 000"}))
    assert prompts_sent() == sent
    assert len(payments_of(order.id)) == 1 and payments_of(card_order.id)[0].provider == "stripe"

    # The holder reaches the order: refused only because its prompt still waits.
    again = http.post(f"/api/orders/{reference}/stk-push", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "mpesa_prompt_pending"
    assert prompts_sent() == sent


def test_references_cannot_be_enumerated() -> None:
    made = [public_order_reference() for _ in range(2000)]
    assert len(set(made)) == len(made)
    assert all(REFERENCE.fullmatch(r) for r in made)
    # After the prefix, 16 random bytes (128 bits): guessing one live order among a
    # million takes ~2^108 tries.
    assert all(len(base64.urlsafe_b64decode(r[4:] + "==")) == 16 for r in made)
    letters = {c for r in made for c in r[4:]}
    assert len(letters) == 64  # the whole alphabet is used: no hidden structure
    # Nothing sequential: consecutive references share no common prefix beyond ``ord_``.
    shared = [len(os.path.commonprefix([a, b])) for a, b in itertools.pairwise(made)]  # noqa: RUF071
    assert sum(shared) / len(shared) < 4 + 0.1


def test_the_lookup_behind_the_waiting_page_finds_only_references(http: httpx.Client) -> None:
    """``/payment/<orderId>`` (a Reflex page, not served by this test server) resolves
    its path through ``orders.order_by_reference``: a row id shows "Order not found"."""
    placed = mpesa_checkout(http, "0712 345 630", "page@example.co.ke")
    order = order_row(placed["orderId"])
    found, payment = lookup.order_by_reference(placed["orderId"])
    assert found.id == order.id and payment is not None and payment.provider == "payhero"
    for path_value in (str(order.id), order.number, "1", "", "ord_\x00" + "A" * 21, placed["orderId"] + "x"):
        with pytest.raises(NotFound):
            lookup.order_by_reference(path_value)


# --- webhook credentials --------------------------------------------------------------------


def _sign_in(http: httpx.Client, email: str) -> None:
    with read_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
    http.cookies.set("payflow_session", customers.issue_session_token(user))


def test_stored_webhook_headers_keep_no_credential(http: httpx.Client) -> None:
    secret = get_settings().univapay_webhook_auth
    body = json.dumps({"event": "charge_finished", "data": {"id": str(uuid.uuid4()), "status": "pending"}})
    headers = {
        "Authorization": secret,
        "Content-Type": "application/json",
        "Cookie": "payflow_session=abc.def",
        "X-Api-Key": "key-123",
        "X-Original-URI": "/api/payhero/callback?token=cb-secret&x=1",
    }
    http.post("/api/payment/callback", content=body, headers=headers)
    # The same credential guessed wrong by someone else: refused, recorded, not kept either.
    refused = http.post(
        "/api/payment/callback", content=body, headers=headers | {"Authorization": "Bearer guess"}
    )
    assert refused.status_code == 401
    with read_session() as session:
        rows = session.exec(select(WebhookEvent).where(WebhookEvent.provider == "univapay")).all()
    assert len(rows) >= 2
    for row in rows:
        stored = json.loads(row.headers)
        assert stored["authorization"] == REDACTED
        assert stored["cookie"] == REDACTED and stored["x-api-key"] == REDACTED
        assert stored["x-original-uri"] == "/api/payhero/callback?token=[redacted]&x=1"
        assert stored["content-type"] == "application/json"  # the rest stays readable
        for value in (secret, "Bearer guess", "abc.def", "key-123", "cb-secret"):
            assert value not in row.headers
        assert row.raw_body == body  # kept whole: replay needs it

    # The operator's API shows the redaction, never the value.
    _sign_in(http, "admin@payflow.test")
    for row in rows:
        shown = http.get(f"/api/admin/events/{row.id}")
        assert shown.status_code == 200
        assert shown.json()["headers"]["authorization"] == REDACTED
        assert secret not in shown.text and "Bearer guess" not in shown.text


def test_a_payhero_callback_token_never_reaches_storage(http: httpx.Client) -> None:
    token = get_settings().payhero_callback_token
    wrong = http.post(
        "/api/payhero/callback?token=not-the-token",
        content=b"{}",
        headers={"Content-Type": "application/json", "Referer": f"https://x.example/cb?token={token}"},
    )
    assert wrong.status_code == 401
    with read_session() as session:
        [row] = session.exec(select(WebhookEvent).where(WebhookEvent.provider == "payhero")).all()
    assert token not in row.headers and "not-the-token" not in row.headers
    assert json.loads(row.headers)["referer"] == "https://x.example/cb?token=[redacted]"


def test_a_row_stored_before_redaction_is_shown_redacted(sqlite_db: str) -> None:
    from payflow_app.core.db import write_transaction

    with write_transaction() as session:
        row = WebhookEvent(
            provider="univapay",
            status="rejected",
            headers=json.dumps({"authorization": "Bearer old-secret", "host": "payflow"}),
            raw_body="{}",
        )
        session.add(row)
        session.flush()
        event_id = row.id
    assert event_id is not None
    event, _ = timeline.webhook_body(event_id)
    assert json.loads(event.headers) == {"authorization": REDACTED, "host": "payflow"}
    with read_session() as session:  # showing it changed nothing stored (the migration scrubs)
        assert "old-secret" in (session.get(WebhookEvent, event_id) or WebhookEvent()).headers


@pytest.mark.parametrize(
    ("name", "redacted"),
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("Cookie", True),
        ("Set-Cookie", True),
        ("X-Api-Key", True),
        ("x-auth-token", True),
        ("X-Access-Token", True),
        ("X-Webhook-Secret", True),
        ("api_key", True),
        ("Stripe-Signature", False),  # an HMAC of the body, not a credential; kept for diagnosis
        ("Content-Type", False),
        ("User-Agent", False),
        ("Host", False),
    ],
)
def test_credential_headers_are_recognised(name: str, redacted: bool) -> None:
    assert (redact_headers({name: "v4lue"})[name] == REDACTED) is redacted


def test_secret_query_parameters_are_redacted_in_urls() -> None:
    assert redact_url("/api/payhero/callback?token=abc") == "/api/payhero/callback?token=[redacted]"
    assert redact_url("https://h/p?a=1&api_key=k&b=2#f") == "https://h/p?a=1&api_key=[redacted]&b=2#f"
    assert redact_url("/payment/success?paymentId=pay_x") == "/payment/success?paymentId=pay_x"


def test_the_scrub_keeps_what_is_not_a_credential_and_drops_what_is_not_headers() -> None:
    stored = json.dumps({"authorization": "Bearer s", "content-type": "application/json"}, sort_keys=True)
    assert json.loads(scrub_headers_json(stored)) == {
        "authorization": REDACTED,
        "content-type": "application/json",
    }
    clean = json.dumps({"content-type": "application/json"}, sort_keys=True)
    assert scrub_headers_json(clean) == clean  # unchanged rows are not rewritten
    assert scrub_headers_json("not json") == "{}"
    assert scrub_headers_json("[1, 2]") == "{}"


# --- the migration ----------------------------------------------------------------------------


def _alembic(url: str, target: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", target],
        cwd=ROOT,
        env={**os.environ, "PAYFLOW_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


def _placeholder(column: sa.Column[Any]) -> Any:
    """A value for a required column the test does not care about."""
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.now(UTC)
    return {int: 0, bool: False, str: "x"}.get(python_type, "x")


def _insert(connection: sa.Connection, table_name: str, **values: Any) -> int:
    """Insert a row into the table as it is at this revision, filling the required
    columns the test does not name."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    for column in table.columns:
        if column.name in values or column.primary_key or column.nullable:
            continue
        if column.server_default is None:
            values[column.name] = _placeholder(column)
    return int(connection.execute(table.insert().values(**values)).inserted_primary_key[0])


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'before.db'}"
        return
    if not _pg_available():
        pytest.skip("PostgreSQL is not running")
    import psycopg

    name = f"payflow_m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migration_gives_old_orders_references_and_scrubs_stored_credentials(scratch_url: str) -> None:
    _alembic(scratch_url, "0006")
    engine = sa.create_engine(scratch_url)
    secret_headers = {"authorization": "Bearer sk_live_old", "content-type": "application/json"}
    try:
        with engine.begin() as connection:
            user_id = _insert(connection, "user", email="old@example.com", full_name="Old Customer")
            order_ids = [
                _insert(
                    connection,
                    "order",
                    number=f"ORD-1-OLD{i}",
                    user_id=user_id,
                    unit_price_minor=1,
                    amount_minor=1,
                    currency="KES",
                )
                for i in range(3)
            ]
            leaked = _insert(
                connection,
                "webhook_event",
                provider="univapay",
                headers=json.dumps(secret_headers),
                raw_body='{"a": 1}',
            )
            clean = _insert(
                connection,
                "webhook_event",
                provider="stripe",
                event_id="evt_1",
                headers=json.dumps({"stripe-signature": "t=1,v1=abc"}, sort_keys=True),
                raw_body="{}",
            )
        _alembic(scratch_url, "0007")
        with engine.connect() as connection:
            references = dict(connection.execute(sa.text('SELECT id, public_id FROM "order"')).all())
            stored = dict(connection.execute(sa.text("SELECT id, headers FROM webhook_event")).all())
            bodies = dict(connection.execute(sa.text("SELECT id, raw_body FROM webhook_event")).all())
    finally:
        engine.dispose()
    assert set(references) == set(order_ids)
    assert all(REFERENCE.fullmatch(r) for r in references.values()) and len(set(references.values())) == 3
    assert json.loads(stored[leaked]) == {"authorization": REDACTED, "content-type": "application/json"}
    assert "sk_live_old" not in stored[leaked] and bodies[leaked] == '{"a": 1}'
    assert json.loads(stored[clean]) == {"stripe-signature": "t=1,v1=abc"}
