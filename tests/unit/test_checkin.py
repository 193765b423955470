"""Check-in verification: each reason a gate can answer, and a ticket redeemed exactly
once when several gates scan it at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput
from payflow_app.models import CheckIn, CheckInScan, Event, Order, User, utcnow
from payflow_app.seed import ORGANIZER_EMAIL, seed
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.tickets import actions, checkin, devices
from payflow_app.services.tickets.checkin import Gate, OfflineScan, Reason
from payflow_app.services.tickets.tokens import private_key_pem, sign_ticket_token
from tests import factories


def _event_ids() -> tuple[int, int]:
    """(the event the Standard type belongs to, the other seeded event)."""
    standard = factories.ticket_type("Standard")
    with read_session() as session:
        other = session.exec(select(Event.id).where(Event.id != standard.event_id)).first()
    assert other is not None
    return standard.event_id, other


def _gate(event_id: int, name: str = "North") -> Gate:
    return Gate(event_id=event_id, name=name, operator="Olga")


def _organizer() -> SessionUser:
    with read_session() as session:
        user = session.exec(select(User).where(User.email == ORGANIZER_EMAIL)).one()
    assert user.id is not None
    return SessionUser(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        language="en",
        must_change_password=False,
    )


def test_a_paid_ticket_is_valid_once_then_already_redeemed_naming_the_first_scan(seeded: str) -> None:
    event_id, _ = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]

    first = checkin.check_in(_gate(event_id, "North"), ticket.qr_token)
    assert (first.reason, first.holder, first.ticket_type) == (Reason.VALID, "Ada Lovelace", "Standard")
    assert first.message == "Valid — Ada Lovelace, Standard"

    again = checkin.check_in(Gate(event_id=event_id, name="South", operator="Piotr"), ticket.number)
    assert again.reason is Reason.ALREADY_REDEEMED
    assert again.first is not None and (again.first.gate, again.first.operator) == ("North", "Olga")
    assert "gate North, by Olga" in again.message
    with read_session() as session:
        assert len(session.exec(select(CheckIn)).all()) == 1
        reasons = [s.reason for s in session.exec(select(CheckInScan).order_by(CheckInScan.id)).all()]
    assert reasons == ["valid", "already_redeemed"]


def test_typed_numbers_are_case_insensitive_and_unknown_numbers_are_named(seeded: str) -> None:
    event_id, _ = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]
    assert checkin.check_in(_gate(event_id), f"  {ticket.number.lower()} ").reason is Reason.VALID
    assert checkin.check_in(_gate(event_id), "TKT-1-NOPE").reason is Reason.UNKNOWN_TICKET


def test_a_ticket_of_another_event_is_wrong_event_and_reveals_no_holder(seeded: str) -> None:
    _, other_event = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]
    result = checkin.check_in(_gate(other_event), ticket.qr_token)
    assert result.reason is Reason.WRONG_EVENT
    assert result.holder == "" and result.as_json()["ticket"] is None
    with read_session() as session:
        assert session.exec(select(CheckIn)).first() is None


def test_forged_tokens_are_refused(seeded: str) -> None:
    event_id, _ = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    claims = {"iss": "payflow", "tkt": ticket.number, "evt": event_id, "nonce": "x", "iat": 1}
    signed_elsewhere = jwt.encode(claims, other_key, algorithm="ES256")
    header, payload, signature = ticket.qr_token.split(".")
    tampered = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    for forged in (signed_elsewhere, tampered, "a.b.c"):
        assert checkin.check_in(_gate(event_id), forged).reason is Reason.FORGED
    # A genuine signature over a ticket number nobody holds is forged too.
    invented = sign_ticket_token(
        ticket_number="TKT-0-INVENT", event_id=event_id, event_starts_at=utcnow() + timedelta(days=9)
    )
    assert checkin.check_in(_gate(event_id), invented).reason is Reason.FORGED
    assert checkin.check_in(_gate(event_id), ticket.qr_token).reason is Reason.VALID


def test_unpaid_tickets_are_refused(seeded: str) -> None:
    event_id, _ = _event_ids()
    order = factories.paid_order()
    ticket = factories.tickets_of(order)[0]
    # An M-PESA order's ticket before the payment has no token; by number it is unpaid.
    with write_transaction() as session:
        db_ticket = session.get(type(ticket), ticket.id)
        assert db_ticket is not None
        db_ticket.status = "pending"
    assert checkin.check_in(_gate(event_id), ticket.number).reason is Reason.UNPAID
    with write_transaction() as session:
        db_ticket = session.get(type(ticket), ticket.id)
        db_order = session.get(Order, order.id)
        assert db_ticket is not None and db_order is not None
        db_ticket.status = "valid"
        db_order.status = "awaiting_payment"  # as if its payment had never been confirmed
    assert checkin.check_in(_gate(event_id), ticket.qr_token).reason is Reason.UNPAID


def test_revoked_and_replaced_tokens_are_refused(seeded: str) -> None:
    event_id, _ = _event_ids()
    first, second = factories.tickets_of(factories.paid_order(quantity=2))
    organizer = _organizer()

    actions.reissue(organizer, first.number)
    assert checkin.check_in(_gate(event_id), first.qr_token).reason is Reason.REVOKED
    new_token = factories.tickets_of(_order_of(first))[0].qr_token
    assert new_token != first.qr_token
    assert checkin.check_in(_gate(event_id), new_token).reason is Reason.VALID

    actions.revoke(organizer, second.number, reason="Resold on the street")
    assert checkin.check_in(_gate(event_id), second.qr_token).reason is Reason.REVOKED
    assert checkin.check_in(_gate(event_id), second.number).reason is Reason.REVOKED
    assert len(devices.revoked_nonces(event_id)) == 2


def _move_event(event_id: int, starts_at: datetime) -> None:
    with write_transaction() as session:
        event = session.get(Event, event_id)
        assert event is not None
        event.starts_at = starts_at


def test_a_ticket_expires_a_day_after_its_event_starts_by_token_and_by_number(any_db: str) -> None:
    seed()
    event_id, _ = _event_ids()
    kept, late = factories.tickets_of(factories.paid_order(quantity=2))
    # Issued while the event was ahead, so the tokens' own exp is still in the future:
    # the event's current start decides (the organizer moved it earlier).
    _move_event(event_id, utcnow() - timedelta(hours=23))
    assert checkin.check_in(_gate(event_id), kept.qr_token).reason is Reason.VALID
    _move_event(event_id, utcnow() - timedelta(hours=25))
    for code in (late.qr_token, late.number, kept.qr_token):
        result = checkin.check_in(_gate(event_id), code)
        assert result.reason is Reason.EXPIRED, code
        assert result.message == "Expired — tickets for this event are no longer valid"
        assert result.ticket_number == (late.number if code != kept.qr_token else kept.number)
    with read_session() as session:
        assert len(session.exec(select(CheckIn)).all()) == 1  # the one scanned in time
        reasons = [s.reason for s in session.exec(select(CheckInScan).order_by(CheckInScan.id)).all()]
    assert reasons == ["valid", "expired", "expired", "expired"]


def test_moving_the_event_later_keeps_tickets_valid_past_their_tokens_exp(seeded: str) -> None:
    event_id, _ = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]
    stale = sign_ticket_token(
        ticket_number=ticket.number, event_id=event_id, event_starts_at=utcnow() - timedelta(days=3)
    )
    with write_transaction() as session:
        db_ticket = session.get(type(ticket), ticket.id)
        assert db_ticket is not None
        db_ticket.qr_token = stale  # signed for the old date; the event now starts in 30 days
    assert checkin.check_in(_gate(event_id), stale).reason is Reason.VALID


def test_a_token_from_before_tickets_expired_has_no_exp_and_still_expires(seeded: str) -> None:
    event_id, _ = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]
    claims = {"iss": "payflow", "tkt": ticket.number, "evt": event_id, "nonce": "legacy-nonce", "iat": 1}
    legacy = jwt.encode(claims, private_key_pem(), algorithm="ES256")
    with write_transaction() as session:
        db_ticket = session.get(type(ticket), ticket.id)
        assert db_ticket is not None
        db_ticket.qr_token = legacy
    _move_event(event_id, utcnow() - timedelta(days=2))
    assert checkin.check_in(_gate(event_id), legacy).reason is Reason.EXPIRED
    _move_event(event_id, utcnow() + timedelta(hours=2))
    assert checkin.check_in(_gate(event_id), legacy).reason is Reason.VALID


def test_an_offline_scan_counts_at_the_time_it_was_made(seeded: str) -> None:
    event_id, _ = _event_ids()
    in_time, too_late = factories.tickets_of(factories.paid_order(quantity=2))
    _move_event(event_id, utcnow() - timedelta(hours=48))  # valid until 24 hours ago
    device = devices.issue_device(_organizer(), event_id=event_id, name="East")
    gate = Gate(event_id=event_id, name="East", operator="device East", device_id=device.id)
    results = checkin.upload_offline_scans(
        gate,
        [
            OfflineScan(
                nonce="scan-in-time", code=in_time.qr_token, scanned_at=utcnow() - timedelta(hours=30)
            ),
            OfflineScan(
                nonce="scan-too-late", code=too_late.qr_token, scanned_at=utcnow() - timedelta(hours=20)
            ),
        ],
    )
    assert [r.reason for r in results] == [Reason.VALID, Reason.EXPIRED]
    assert devices.tickets_valid_until(event_id) < utcnow() - timedelta(hours=23)


def _order_of(ticket: object) -> Order:
    with read_session() as session:
        found = session.get(Order, ticket.order_id)  # type: ignore[attr-defined]
        assert found is not None
        return found


def test_empty_input_is_a_clear_error_and_records_nothing(seeded: str) -> None:
    event_id, _ = _event_ids()
    try:
        checkin.check_in(_gate(event_id), "   ")
    except InvalidInput as exc:
        assert "code" in exc.errors
    else:
        raise AssertionError("an empty scan was accepted")
    with read_session() as session:
        assert session.exec(select(CheckInScan)).first() is None


def test_concurrent_scans_at_two_gates_redeem_the_ticket_once(any_db: str) -> None:
    seed()
    event_id, _ = _event_ids()
    ticket = factories.tickets_of(factories.paid_order())[0]
    scans = 8
    start = threading.Barrier(scans)

    def scan(i: int) -> checkin.ScanResult:
        start.wait()
        gate = _gate(event_id, "North" if i % 2 else "South")
        return checkin.check_in(gate, ticket.qr_token if i % 3 else ticket.number)

    with ThreadPoolExecutor(max_workers=scans) as pool:
        results = list(pool.map(scan, range(scans)))
    reasons = sorted(r.reason.value for r in results)
    assert reasons == ["already_redeemed"] * (scans - 1) + ["valid"]
    winner = next(r for r in results if r.ok)
    with read_session() as session:
        rows = session.exec(select(CheckIn)).all()
        assert len(session.exec(select(CheckInScan)).all()) == scans
    assert len(rows) == 1
    # Every loser names the one winning scan.
    assert {(r.first.gate, r.first.at) for r in results if not r.ok and r.first} == {
        (rows[0].gate, rows[0].scanned_at)
    }
    assert winner.holder == "Ada Lovelace"


def test_an_offline_upload_sent_twice_counts_once(any_db: str) -> None:
    seed()
    event_id, _ = _event_ids()
    tickets = factories.tickets_of(factories.paid_order(quantity=2))
    device = devices.issue_device(_organizer(), event_id=event_id, name="East")
    gate = Gate(event_id=event_id, name="East", operator="device East", device_id=device.id)
    earlier = utcnow() - timedelta(minutes=20)
    batch = [
        OfflineScan(nonce="scan-0001", code=tickets[0].qr_token, scanned_at=earlier),
        OfflineScan(nonce="scan-0002", code=tickets[0].qr_token, scanned_at=earlier + timedelta(seconds=5)),
        OfflineScan(nonce="scan-0003", code=tickets[1].number, scanned_at=earlier + timedelta(seconds=9)),
    ]
    first = checkin.upload_offline_scans(gate, batch)
    again = checkin.upload_offline_scans(gate, batch)
    assert [r.reason.value for r in first] == ["valid", "already_redeemed", "valid"]
    assert [r.reason.value for r in again] == ["valid", "already_redeemed", "valid"]
    assert [r.duplicate for r in first] == [False] * 3 and [r.duplicate for r in again] == [True] * 3
    with read_session() as session:
        rows = session.exec(select(CheckIn).order_by(CheckIn.id)).all()
        assert len(session.exec(select(CheckInScan)).all()) == 3
    assert len(rows) == 2
    # The check-in keeps the time the device scanned it, not the upload's.
    assert abs((rows[0].scanned_at - earlier).total_seconds()) < 1


def test_a_revoked_device_token_is_refused(seeded: str) -> None:
    event_id, _ = _event_ids()
    device = devices.issue_device(_organizer(), event_id=event_id, name="West")
    seen = devices.device_for_token(device.token)
    assert seen is not None and seen.last_seen_at is not None
    # Every scan authenticates: last_seen_at is written once a minute, not each time.
    again = devices.device_for_token(device.token)
    assert again is not None and again.last_seen_at == seen.last_seen_at
    assert devices.device_for_token(device.token + "x") is None
    assert devices.revoke_device(_organizer(), event_id=event_id, device_id=device.id)
    assert devices.device_for_token(device.token) is None


def test_anything_that_is_not_a_ticket_number_is_unknown_and_long_input_is_cut_to_fit(any_db: str) -> None:
    """PostgreSQL enforces column lengths: a long typed code or gate name must not fail."""
    seed()
    event_id, _ = _event_ids()
    long_gate = Gate(event_id=event_id, name="G" * 300, operator="O" * 500)
    for typed in ("X" * 41, "TKT 1 <script>", "T" * 1500):
        assert checkin.check_in(long_gate, typed).reason is Reason.UNKNOWN_TICKET
    with read_session() as session:
        scans = session.exec(select(CheckInScan)).all()
    assert len(scans) == 3
    assert all(
        len(s.gate) == 80 and len(s.operator) == 200 and len(s.ticket_number or "") <= 40 for s in scans
    )
