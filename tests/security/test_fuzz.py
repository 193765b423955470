"""Property-based fuzzing of every HTTP route payflow serves: whatever the body (random
JSON with huge integers, digits that are not 0-9, wrong types, nesting 50,000 deep;
bytes that are not JSON; bodies over the size limit), whatever the path parameters
(huge, negative, other digits, garbage) and the query string, as anyone (anonymous, a
customer, an organizer, an operator, a scanning device, a provider's credentials):

- no answer is a 5xx (a provider that cannot be reached in-process, 502
  ``provider_unavailable``, is counted apart: that is not the input's doing);
- a refused request (4xx) of payflow's API answers ``{"error": {"code", "message"}}``
  (the sandboxes answer in their provider's shape);
- a refused request (4xx) changes no row of any table — except that a refused webhook
  is itself kept (``webhook_event``, ``rejection_tally``), as payflow keeps every
  webhook request for operators.

The routes come from ``api_routes()`` and ``sandbox_routes()``, so a new route is
fuzzed without editing this file. Figures are printed at the end.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import SQLModel
from starlette.routing import Route
from starlette.testclient import TestClient

from payflow_app.api import api_routes
from payflow_app.core.db import read_session
from payflow_app.sandbox import sandbox_routes
from payflow_app.settings import get_settings
from tests.security.inprocess import (
    ADMIN,
    BASE,
    CUSTOMER,
    ORGANIZER,
    app_client,
    pg_app_client,
    seeded_template,
    sign_in,
)

__all__ = ["app_client", "pg_app_client", "seeded_template"]  # fixtures, used by name

# Per route: SQLite is the thorough run; PostgreSQL repeats a shorter one (slower round trips).
EXAMPLES_PER_ROUTE = {"sqlite": 80, "postgres": 20}
# What a refused webhook legitimately leaves behind (kept for operators, capped per source).
WEBHOOK_KEEPS = {"webhook_event", "rejection_tally"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {name} / {name:convertor} placeholders
    params: tuple[str, ...]
    ours: bool  # payflow's API (its error shape), not a provider imitation

    @property
    def is_webhook(self) -> bool:
        return self.method == "POST" and self.path in WEBHOOK_PATHS


WEBHOOK_PATHS = {"/api/webhooks/stripe", "/api/payment/callback", "/api/payhero/callback"}


def endpoints() -> list[Endpoint]:
    """Every (method, path) of the route table."""
    found = []
    for ours, routes in ((True, api_routes()), (False, sandbox_routes())):
        for route in routes:
            if isinstance(route, Route):
                for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                    found.append(Endpoint(method, route.path, tuple(route.param_convertors), ours))
    return found


# -- what is sent ---------------------------------------------------------------------

UNICODE_DIGITS = ["²0", "٣٠", "１０", "߀", "𝟗"]
HUGE = [2**31 - 1, 2**31, 2_200_000_000, -(2**31) - 1, 2**63, 2**64, 10**30, -(10**25)]
TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-12-01T10:00:00", "nonsense"]
WORDS = [
    "ticket_order", "plan_upgrade", "wallet_topup", "gallery", "studio", "pro", "PLN", "KES", "JPY",
    "card", "m-pesa", "stripe", "univapay", "payhero", "0712345678", "ada@example.com", "1", "0",
    "-1", "1.5", "1,500", "", " ", "null", "true", "TKT-1-ABC", "a.b.c", "<script>", "' OR 1=1 --",
]  # fmt: skip
FIELDS = [
    "kind", "plan", "dryRun", "ticketTypeId", "quantity", "galleryId", "amount", "currency",
    "fullName", "name", "email", "phone", "phoneNumber", "language", "reason", "code", "operator",
    "scans", "nonce", "scanned_at", "paymentId", "univapayTokenId", "transactionTokenId",
    "withholdCallbacks", "payment_type", "type", "data", "card_number", "exp_month", "exp_year",
    "cvv", "cardholder", "channel_id", "provider", "external_reference", "callback_url",
    "drop_rate", "id", "object", "event", "status", "response", "ResultCode", "metadata",
]  # fmt: skip
QUERY_KEYS = [
    "type", "q", "status", "checked_in", "limit", "session_id", "paymentId", "token", "reference",
    "payment_intent", "charge", "to", "saved", "polling", "amount", "currency", "appId", "action",
    "cancel", "email", "univapayChargeId",
]  # fmt: skip

texts = st.one_of(
    st.sampled_from(UNICODE_DIGITS + TIMES + WORDS), st.text(max_size=40), st.integers().map(str)
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), children, max_size=5),
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
ids = st.one_of(st.integers(min_value=-1, max_value=4), st.sampled_from(HUGE), leaves)
# The shapes the JSON APIs document, with fuzzed values: reach past the first refusal.
shaped = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["ticket_order", "plan_upgrade", "gallery", "wallet_topup", "x"]),
            "amount": texts,
            "currency": st.sampled_from(["PLN", "KES", "JPY", "XXX", "²"]),
            "ticketTypeId": ids,
            "quantity": ids,
            "galleryId": ids,
            "plan": st.sampled_from(["pro", "studio", "x"]),
            "dryRun": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {"fullName": texts, "email": texts, "phone": texts, "ticketTypeId": ids, "quantity": ids}
    ),
    st.fixed_dictionaries(
        {
            "scans": st.lists(
                st.fixed_dictionaries(
                    {
                        "nonce": st.text(min_size=8, max_size=20),
                        "code": texts,
                        "scanned_at": st.one_of(st.sampled_from(TIMES), json_values),
                    }
                ),
                min_size=1,
                max_size=3,
            ),
            "code": texts,
            "operator": json_values,
        }
    ),
)


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth if depth % 2 else b"[" * depth + b"]" * depth


def _large(size: int) -> bytes:
    return b'{"fullName": "' + b"x" * size + b'"}'


bodies = st.one_of(
    json_objects.map(lambda body: json.dumps(body).encode()),
    shaped.map(lambda body: json.dumps(body).encode()),
    json_values.map(lambda body: json.dumps(body).encode()),
    st.integers(min_value=100, max_value=60_000).map(_deep),
    st.sampled_from([300 * 1024, 1100 * 1024]).map(_large),
    st.binary(max_size=300),
    st.sampled_from([b"", b"1" * 5000, b'{"a": ' + b"9" * 5000 + b"}", b"\xff\xfe", b"NaN"]),
    st.dictionaries(st.sampled_from(FIELDS + QUERY_KEYS), texts, max_size=6).map(
        lambda form: urlencode(form).encode()
    ),
)
content_types = st.sampled_from(
    ["application/json", "application/json", "application/x-www-form-urlencoded", "text/plain", None]
)
path_values = st.one_of(
    st.integers(min_value=-3, max_value=5),
    st.sampled_from(HUGE + UNICODE_DIGITS + ["0", "007", "-1", "1e3", "..", "x" * 300, "9" * 40]),
    st.text(min_size=1, max_size=30),
).map(lambda value: quote(str(value), safe="") or "x")
queries = st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=6)), texts, max_size=4)
PROFILES = [
    "anonymous",
    "customer",
    "organizer",
    "admin",
    "device",
    "stripe_key",
    "univapay_key",
    "univapay_webhook",
    "payhero_basic",
]


@dataclass
class Fuzzer:
    clients: dict[str, TestClient]  # one per signed-in role (its own cookie jar)
    headers: dict[str, dict[str, str]]  # credentials per profile
    figures: Counter[str]

    def send(self, endpoint: Endpoint, draw: Callable[[Any], Any]) -> None:
        path = endpoint.path
        for name in endpoint.params:
            # quote() leaves no backslash, so the value is a plain replacement string
            path = re.sub(r"\{" + name + r"(:[a-z]+)?\}", draw(path_values), path)
        profile = draw(st.sampled_from(PROFILES))
        query = draw(queries)
        if endpoint.path == "/api/payhero/callback" and draw(st.booleans()):
            query["token"] = get_settings().payhero_callback_token
        headers = dict(self.headers.get(profile, {}))
        content: bytes | None = None
        if endpoint.method in ("POST", "PUT"):
            content = draw(bodies)
            content_type = draw(content_types)
            if content_type:
                headers["Content-Type"] = content_type
        client = self.clients.get(profile, self.clients["anonymous"])
        before = _row_counts()
        answer = client.request(endpoint.method, path, params=query, content=content, headers=headers)
        self.figures["requests"] += 1
        self.figures[f"{answer.status_code // 100}xx"] += 1
        if answer.status_code >= 500:
            unreachable = answer.status_code == 502 and "provider_unavailable" in answer.text
            assert unreachable, f"{endpoint.method} {path} → {answer.status_code}: {answer.text[:500]}"
            self.figures["502 provider unreachable in-process"] += 1
        elif 400 <= answer.status_code < 500:
            # The integration server's outer Mount("") cannot route a path holding a
            # newline (%0A) at all: Starlette's plain 404, before any payflow route.
            unrouted = answer.status_code == 404 and answer.text == "Not Found"
            self.figures["404 unrouted by the test server"] += unrouted
            if endpoint.ours and not unrouted:  # payflow's one error shape
                error = answer.json()["error"]
                assert error["code"] and error["message"], f"{endpoint.method} {path}: {answer.text[:300]}"
            changed = {t for t, n in _row_counts().items() if before[t] != n}
            if endpoint.is_webhook:
                changed -= WEBHOOK_KEEPS
            assert not changed, f"{endpoint.method} {path} → {answer.status_code} changed {changed}"


def _row_counts() -> dict[str, int]:
    tables = list(SQLModel.metadata.tables)
    counts = ", ".join(f'(SELECT count(*) FROM "{name}")' for name in tables)
    with read_session() as session:
        row = session.execute(text(f"SELECT {counts}")).one()
    return dict(zip(tables, row, strict=True))


def _fuzzer(app_client: TestClient) -> Fuzzer:
    settings_ = get_settings()
    clients = {"anonymous": app_client}
    for profile, email in (("customer", CUSTOMER), ("organizer", ORGANIZER), ("admin", ADMIN)):
        clients[profile] = TestClient(
            app_client.app, base_url=BASE, raise_server_exceptions=False, follow_redirects=False
        )
        sign_in(clients[profile], email)
    issued = clients["organizer"].post("/api/organizer/events/1/devices", json={"name": "Fuzz gate"})
    assert issued.status_code == 201, issued.text
    payhero = base64.b64encode(f"{settings_.payhero_username}:{settings_.payhero_password}".encode())
    headers = {
        "device": {"Authorization": f"Bearer {issued.json()['token']}"},
        "stripe_key": {"Authorization": f"Bearer {settings_.stripe_secret_key}"},
        "univapay_key": {
            "Authorization": f"Bearer {settings_.univapay_secret}.{settings_.univapay_app_token}"
        },
        "univapay_webhook": {"Authorization": settings_.univapay_webhook_auth},
        "payhero_basic": {"Authorization": f"Basic {payhero.decode()}"},
    }
    return Fuzzer(clients, headers, Counter())


def _fuzz_route(fuzzer: Fuzzer, endpoint: Endpoint, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        fuzzer.send(endpoint, data.draw)

    fuzz()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_no_route_answers_bad_input_with_a_5xx_or_keeps_a_refused_change(
    database: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    client = request.getfixturevalue("app_client" if database == "sqlite" else "pg_app_client")
    fuzzer = _fuzzer(client)
    routes = endpoints()
    assert len(routes) > 40  # the whole table: API and sandbox
    started = time.monotonic()
    for endpoint in routes:
        _fuzz_route(fuzzer, endpoint, EXAMPLES_PER_ROUTE[database])
        fuzzer.figures["routes"] += 1
    figures = fuzzer.figures
    with capsys.disabled():
        print(
            f"\nfuzz ({database}): {figures['requests']} requests over {figures['routes']} routes in "
            f"{time.monotonic() - started:.0f} s — 2xx {figures['2xx']}, 3xx {figures['3xx']}, "
            f"4xx {figures['4xx']}, 5xx {figures['5xx']} "
            f"(of which 502 provider unreachable in-process: "
            f"{figures['502 provider unreachable in-process']}); 404 unrouted by the test server "
            f"(a %0A in the path): {figures['404 unrouted by the test server']}"
        )
    assert figures["5xx"] == figures["502 provider unreachable in-process"]
