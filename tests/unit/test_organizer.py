"""What an organizer can do, tested through the services: events and ticket types with
the edits that would break sales refused, sale windows, the ticket actions (revoke,
reissue, resend) each emailing once, the event's figures, the attendee search and the
event pictures. Another organizer's event answers NotFound, never "forbidden"."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput, NotFound
from payflow_app.models import EmailOutbox, Event, Order, RevokedToken, Ticket, TicketType, User, pk
from payflow_app.seed import ORGANIZER_EMAIL, seed
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.checkout import orders
from payflow_app.services.organizer import events as organizer
from payflow_app.services.organizer import images
from payflow_app.services.organizer.attendees import AttendeeFilter, attendees
from payflow_app.services.organizer.events import EventForm, NotOrganizer, TicketTypeForm
from payflow_app.services.organizer.stats import event_stats
from payflow_app.services.tickets import actions, checkin
from payflow_app.services.tickets.actions import TicketActionRefused
from payflow_app.services.tickets.checkin import Gate
from payflow_app.services.tickets.seats import sale_state
from payflow_app.services.tickets.tokens import verify_ticket_token
from tests import factories


def _acting(email: str = ORGANIZER_EMAIL) -> SessionUser:
    with read_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
    return SessionUser(
        id=pk(user),
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        language="en",
        must_change_password=False,
    )


def _second_organizer() -> SessionUser:
    with write_transaction() as session:
        session.add(User(email="rival@example.com", full_name="Rival Organizer", role="organizer"))
    return _acting("rival@example.com")


def _event(event_id: int) -> Event:
    with read_session() as session:
        event = session.get(Event, event_id)
    assert event is not None
    return event


def _type(ticket_type_id: int) -> TicketType:
    with read_session() as session:
        found = session.get(TicketType, ticket_type_id)
    assert found is not None
    return found


def _count(model: type[SQLModel]) -> int:
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _event_form(**changes: str) -> EventForm:
    base = {
        "title": "Kraków Blues Night",
        "description": "Blues in the cellar.",
        "venue": "Alchemia, Kraków",
        "starts_at": "2030-05-01T20:00",
        "currency": "pln",
    }
    return EventForm(**(base | changes))


def _type_form(**changes: str) -> TicketTypeForm:
    base = {"name": "Standard", "price": "120.00", "capacity": "200"}
    return TicketTypeForm(**(base | changes))


# Events --------------------------------------------------------------------------


def test_an_organizer_creates_an_event_in_utc_with_a_readable_slug(seeded: str) -> None:
    event = organizer.create_event(_acting(), _event_form(description="  Blues in the cellar.  "))
    stored = _event(pk(event))
    assert (stored.title, stored.description, stored.currency) == (
        "Kraków Blues Night",
        "Blues in the cellar.",
        "PLN",
    )
    assert stored.starts_at == datetime(2030, 5, 1, 20, 0, tzinfo=UTC)
    assert stored.organizer_id == _acting().id
    assert re.fullmatch(r"[a-z0-9-]+", stored.slug) and "blues-night" in stored.slug
    assert [e.id for e in organizer.my_events(_acting())].count(pk(event)) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": "   "}, "title", "Give the event a title."),
        ({"title": "x" * 201}, "title", "Keep the title under 200 characters."),
        ({"venue": ""}, "venue", "Say where it happens."),
        ({"description": "x" * 5001}, "description", "Keep the description under 5000 characters."),
        ({"starts_at": "next Friday"}, "starts_at", "Give the date and time it starts (UTC)."),
        ({"currency": "GBP"}, "currency", "Choose a currency: EUR, JPY, KES, PLN, USD."),
    ],
)
def test_an_invalid_event_names_the_field_and_creates_or_changes_nothing(
    seeded: str, changes: dict[str, str], field: str, message: str
) -> None:
    events = _count(Event)
    with pytest.raises(InvalidInput) as refused:
        organizer.create_event(_acting(), _event_form(**changes))
    assert refused.value.errors == {field: message}
    assert _count(Event) == events

    event_id = factories.ticket_type("Standard").event_id
    before = _event(event_id)
    with pytest.raises(InvalidInput) as refused:
        organizer.update_event(_acting(), event_id, _event_form(**changes))
    assert refused.value.errors == {field: message}
    assert _event(event_id).model_dump() == before.model_dump()


def test_only_organizers_manage_events(seeded: str) -> None:
    event_id = factories.ticket_type("Standard").event_id
    customer = _acting("customer@payflow.test")
    for attempt in (
        lambda: organizer.create_event(customer, _event_form()),
        lambda: organizer.my_events(customer),
        lambda: organizer.event_of(customer, event_id),
        lambda: organizer.update_event(customer, event_id, _event_form()),
    ):
        with pytest.raises(NotOrganizer):
            attempt()
    with pytest.raises(NotOrganizer):
        organizer.require_organizer(None)
    assert _event(event_id).title == "Warsaw Jazz Night"


def test_another_organizers_event_is_not_found_like_a_missing_one(seeded: str) -> None:
    standard = factories.ticket_type("Standard")
    rival = _second_organizer()
    with pytest.raises(NotFound) as missing:
        organizer.event_of(rival, 999_999)
    attempts: list[Callable[[], object]] = [
        lambda: organizer.event_of(rival, standard.event_id),
        lambda: organizer.update_event(rival, standard.event_id, _event_form()),
        lambda: organizer.add_ticket_type(rival, standard.event_id, _type_form(name="Balcony")),
        lambda: organizer.update_ticket_type(rival, pk(standard), _type_form(price="1")),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as refused:
            attempt()
        assert refused.value.message == missing.value.message
    assert organizer.my_events(rival) == []
    assert _event(standard.event_id).title == "Warsaw Jazz Night"
    assert _type(pk(standard)).price_minor == 12000
    # An operator may act on every event.
    assert organizer.event_of(_acting("admin@payflow.test"), standard.event_id).id == standard.event_id


def test_the_currency_changes_before_any_sale_but_not_after(seeded: str) -> None:
    event_id = factories.ticket_type("Standard").event_id
    organizer.update_event(_acting(), event_id, _event_form(currency="EUR"))
    assert _event(event_id).currency == "EUR"
    organizer.update_event(_acting(), event_id, _event_form(currency="PLN"))

    factories.order(quantity=1)  # awaiting payment: its seats are held in PLN
    with pytest.raises(InvalidInput) as refused:
        organizer.update_event(_acting(), event_id, _event_form(currency="EUR"))
    assert refused.value.errors == {
        "currency": "Tickets are sold in PLN: the currency cannot change after sales."
    }
    assert _event(event_id).currency == "PLN"
    # Other edits still go through after sales.
    organizer.update_event(_acting(), event_id, _event_form(title="Warsaw Jazz Night II"))
    assert (_event(event_id).title, _event(event_id).currency) == ("Warsaw Jazz Night II", "PLN")


def test_a_checkout_in_flight_keeps_the_event_in_its_currency(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout has held its seats but not committed when the organizer changes the
    currency: the edit waits for it, then sees its order and refuses. Every order
    stays in the event's currency either way."""
    seed()
    event_id = factories.ticket_type("Standard").event_id
    held = threading.Event()
    hold_seats = orders.hold_seats

    def hold_then_linger(*args: object, **kwargs: object) -> bool:
        result = hold_seats(*args, **kwargs)  # type: ignore[arg-type]
        held.set()
        time.sleep(1.0)  # the organizer saves meanwhile
        return result

    monkeypatch.setattr(orders, "hold_seats", hold_then_linger)
    with ThreadPoolExecutor(max_workers=1) as pool:
        buying = pool.submit(factories.order, 1)
        assert held.wait(10)
        with pytest.raises(InvalidInput) as refused:
            organizer.update_event(_acting(), event_id, _event_form(currency="EUR"))
        placed = buying.result(timeout=20)
    assert "cannot change after sales" in refused.value.errors["currency"]
    assert (placed.currency, _event(event_id).currency) == ("PLN", "PLN")


def test_the_events_list_counts_sold_tickets_and_capacity_per_event(seeded: str) -> None:
    factories.paid_order(quantity=2)
    factories.order(quantity=3, email="waiting@example.com")  # held, not sold
    jazz, summit = factories.ticket_type("Standard").event_id, factories.ticket_type("Regular").event_id
    assert organizer.sales_summaries([jazz, summit]) == {jazz: (2, 220), summit: (0, 600)}


# Ticket types --------------------------------------------------------------------


def test_a_ticket_type_price_is_typed_in_major_units_and_stored_in_minor_units(seeded: str) -> None:
    event_id = factories.ticket_type("Standard").event_id
    added = organizer.add_ticket_type(
        _acting(),
        event_id,
        _type_form(name=" Balcony ", price="120.5", capacity="40", sales_end="2030-05-01T18:00"),
    )
    stored = _type(pk(added))
    assert (stored.name, stored.price_minor, stored.capacity, stored.reserved) == ("Balcony", 12050, 40, 0)
    assert stored.sales_start_at is None
    assert stored.sales_end_at == datetime(2030, 5, 1, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": " "}, "name", "Name the ticket type."),
        ({"price": "12.345"}, "price", "Type the price in PLN, e.g. 120.00."),
        ({"price": "free"}, "price", "Type the price in PLN, e.g. 120.00."),
        ({"price": "0"}, "price", "A ticket type needs a price above zero."),
        ({"capacity": "0"}, "capacity", "Capacity is a whole number from 1 to 1,000,000."),
        ({"capacity": "ten"}, "capacity", "Capacity is a whole number from 1 to 1,000,000."),
        (
            {"sales_start": "soon"},
            "sales_start",
            "Give the date and time sales open (UTC), or leave it empty.",
        ),
        (
            {"sales_start": "2030-02-01T10:00", "sales_end": "2030-01-01T10:00"},
            "sales_end",
            "Sales must close after they open.",
        ),
    ],
)
def test_an_invalid_ticket_type_names_the_field_and_adds_nothing(
    seeded: str, changes: dict[str, str], field: str, message: str
) -> None:
    event_id = factories.ticket_type("Standard").event_id
    with pytest.raises(InvalidInput) as refused:
        organizer.add_ticket_type(_acting(), event_id, _type_form(**changes))
    assert refused.value.errors == {field: message}
    assert [t.name for t in organizer.ticket_types(event_id)] == ["Standard", "VIP"]


def test_capacity_cannot_go_below_the_seats_sold_or_held(seeded: str) -> None:
    vip = factories.ticket_type("VIP")
    factories.order(quantity=3, type_name="VIP")
    with pytest.raises(InvalidInput) as refused:
        organizer.update_ticket_type(_acting(), pk(vip), _type_form(name="VIP", price="350", capacity="2"))
    assert refused.value.errors == {
        "capacity": "3 tickets are sold or held for payment: capacity cannot go below 3."
    }
    assert _type(pk(vip)).capacity == 20

    organizer.update_ticket_type(_acting(), pk(vip), _type_form(name="VIP", price="350", capacity="3"))
    assert (_type(pk(vip)).capacity, _type(pk(vip)).reserved) == (3, 3)
    with pytest.raises(InvalidInput) as sold_out:
        factories.order(quantity=1, type_name="VIP", email="late@example.com")
    assert "quantity" in sold_out.value.errors


def test_a_checkout_committed_while_capacity_is_edited_is_not_oversold(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL lets a checkout commit between the edit reading the ticket type and
    locking it (SQLite's write lock makes the checkout wait instead). The edit must
    judge the capacity against the seats held after that checkout."""
    seed()
    vip = factories.ticket_type("VIP")
    factories.order(quantity=3, type_name="VIP")
    checked_out: list[Order] = []
    owned_event = organizer.owned_event

    def owned_event_then_a_checkout(*args: object) -> Event:
        event = owned_event(*args)  # type: ignore[arg-type]
        if not checked_out:
            with ThreadPoolExecutor(max_workers=1) as pool:
                checked_out.append(
                    pool.submit(factories.order, 2, "VIP", "concurrent@example.com").result(timeout=20)
                )
        return event

    monkeypatch.setattr(organizer, "owned_event", owned_event_then_a_checkout)
    with pytest.raises(InvalidInput) as refused:
        organizer.update_ticket_type(_acting(), pk(vip), _type_form(name="VIP", price="350", capacity="3"))
    assert "cannot go below 5" in refused.value.errors["capacity"]
    stored = _type(pk(vip))
    assert (stored.capacity, stored.reserved) == (20, 5)


# Sale windows --------------------------------------------------------------------


def _set_window(start: str = "", end: str = "") -> TicketType:
    standard = factories.ticket_type("Standard")
    organizer.update_ticket_type(_acting(), pk(standard), _type_form(sales_start=start, sales_end=end))
    return standard


def test_an_order_before_the_sale_opens_is_refused_and_holds_nothing(seeded: str) -> None:
    standard = _set_window(start="2099-01-01T10:00")
    with pytest.raises(InvalidInput) as refused:
        factories.order(quantity=2)
    assert refused.value.errors == {"ticket_type_id": "Standard goes on sale on 1 January 2099, 10:00 UTC."}
    assert (_type(pk(standard)).reserved, _count(Order)) == (0, 0)


def test_an_order_after_the_sale_closed_is_refused_and_holds_nothing(seeded: str) -> None:
    standard = _set_window(end="2020-01-01T00:00")
    with pytest.raises(InvalidInput) as refused:
        factories.order(quantity=2)
    assert refused.value.errors == {"ticket_type_id": "Sales of Standard have ended."}
    assert (_type(pk(standard)).reserved, _count(Order)) == (0, 0)


def test_an_order_inside_the_sale_window_is_placed(seeded: str) -> None:
    standard = _set_window(start="2020-01-01T00:00", end="2099-01-01T00:00")
    assert factories.order(quantity=2).status == "pending"
    assert _type(pk(standard)).reserved == 2


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (datetime(2030, 1, 1, 9, 59, tzinfo=UTC), "not_yet"),
        (datetime(2030, 1, 1, 10, 0, tzinfo=UTC), "on_sale"),  # opens on the minute
        (datetime(2030, 1, 31, 23, 59, tzinfo=UTC), "on_sale"),
        (datetime(2030, 2, 1, 0, 0, tzinfo=UTC), "ended"),  # closes on the minute
    ],
)
def test_sale_state_at_the_window_edges(now: datetime, state: str) -> None:
    window = TicketType(
        event_id=1,
        name="Standard",
        price_minor=100,
        capacity=1,
        sales_start_at=datetime(2030, 1, 1, 10, 0, tzinfo=UTC),
        sales_end_at=datetime(2030, 2, 1, 0, 0, tzinfo=UTC),
    )
    assert sale_state(window, now) == state


# Ticket actions ------------------------------------------------------------------


def _ticket(number: str) -> Ticket:
    with read_session() as session:
        return session.exec(select(Ticket).where(Ticket.number == number)).one()


def _emails(order_id: int, prefix: str) -> list[EmailOutbox]:
    with read_session() as session:
        rows = session.exec(select(EmailOutbox).where(EmailOutbox.order_id == order_id)).all()
    return [row for row in rows if row.template.startswith(prefix)]


def _revoked_tokens() -> list[RevokedToken]:
    with read_session() as session:
        return list(session.exec(select(RevokedToken).order_by(col(RevokedToken.id))).all())


def test_concurrent_revocations_revoke_once_and_email_once(any_db: str) -> None:
    seed()
    order = factories.paid_order()
    ticket = factories.tickets_of(order)[0]
    clicks = 6
    start = threading.Barrier(clicks)

    def revoke(_: int) -> actions.ActionResult:
        start.wait()
        return actions.revoke(_acting(), ticket.number, reason="Resold on the street")

    with ThreadPoolExecutor(max_workers=clicks) as pool:
        results = list(pool.map(revoke, range(clicks)))
    assert sorted(r.changed for r in results) == [False] * (clicks - 1) + [True]
    assert [e.template for e in _emails(pk(order), "revoked:")] == [f"revoked:{ticket.id}"]
    revoked = _ticket(ticket.number)
    assert (revoked.status, revoked.revoke_reason) == ("revoked", "Resold on the street")
    assert [(r.nonce, r.reason) for r in _revoked_tokens()] == [
        (verify_ticket_token(ticket.qr_token).nonce, "revoked")
    ]


def test_a_revocation_needs_a_reason_the_holder_is_told(seeded: str) -> None:
    ticket = factories.tickets_of(factories.paid_order())[0]
    with pytest.raises(InvalidInput) as refused:
        actions.revoke(_acting(), ticket.number, reason="  ")
    assert set(refused.value.errors) == {"reason"}
    assert _ticket(ticket.number).status == "valid" and _revoked_tokens() == []

    actions.revoke(_acting(), ticket.number, reason="Chargeback")
    (email,) = _emails(ticket.order_id, "revoked:")
    assert email.recipient == "ada@example.com" and "Chargeback" in email.body_text
    with pytest.raises(TicketActionRefused):
        actions.reissue(_acting(), ticket.number)
    with pytest.raises(TicketActionRefused):
        actions.resend(_acting(), ticket.number)


def test_a_reissue_replaces_number_and_qr_code_lists_the_old_ones_and_happens_once(seeded: str) -> None:
    order = factories.paid_order()
    old = factories.tickets_of(order)[0]
    result = actions.reissue(_acting(), old.number.lower())
    assert result.changed
    (new,) = factories.tickets_of(order)
    assert (new.id, new.seat_index, new.status) == (old.id, old.seat_index, "valid")
    assert new.number != old.number and new.qr_token != old.qr_token
    assert f"Ticket {old.number} is replaced by {new.number}" in result.message
    old_claims, new_claims = verify_ticket_token(old.qr_token), verify_ticket_token(new.qr_token)
    assert (new_claims.ticket_number, new_claims.event_id) == (new.number, order.event_id)
    assert [(r.nonce, r.ticket_number, r.reason) for r in _revoked_tokens()] == [
        (old_claims.nonce, old.number, "reissued")
    ]
    (email,) = _emails(pk(order), "reissued:")
    assert email.template == f"reissued:{old.id}:{new_claims.nonce}"
    tokens = [image["qr_token"] for image in json.loads(email.inline_images)]
    assert tokens == [new.qr_token]

    # A second click on the old number (the page still shows it) changes nothing.
    again = actions.reissue(_acting(), old.number)
    assert not again.changed and new.number in again.message
    assert factories.tickets_of(order)[0].qr_token == new.qr_token
    assert len(_emails(pk(order), "reissued:")) == 1

    # At the gate: the old QR and the old number are revoked, the new ones admit.
    gate = Gate(event_id=order.event_id or 0, name="North", operator="Olga")
    assert checkin.check_in(gate, old.qr_token).reason is checkin.Reason.REVOKED
    assert checkin.check_in(gate, old.number).reason is checkin.Reason.REVOKED
    assert checkin.check_in(gate, new.number).reason is checkin.Reason.VALID


def test_a_resend_emails_once_per_minute(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = factories.tickets_of(factories.paid_order())[0]
    moment = datetime(2030, 5, 1, 18, 30, 5, tzinfo=UTC)
    monkeypatch.setattr(actions, "utcnow", lambda: moment)
    first = actions.resend(_acting(), ticket.number)
    again = actions.resend(_acting(), ticket.number)
    assert (first.changed, again.changed) == (True, False)
    assert "already sent" in again.message
    assert len(_emails(ticket.order_id, "resend:")) == 1

    moment += timedelta(minutes=1)
    assert actions.resend(_acting(), ticket.number).changed
    resent = _emails(ticket.order_id, "resend:")
    assert len(resent) == 2
    assert all(json.loads(e.inline_images)[0]["qr_token"] == ticket.qr_token for e in resent)


def test_another_organizers_ticket_is_not_found_and_left_alone(seeded: str) -> None:
    ticket = factories.tickets_of(factories.paid_order())[0]
    rival = _second_organizer()
    emails = _count(EmailOutbox)
    for attempt in (
        lambda: actions.resend(rival, ticket.number),
        lambda: actions.revoke(rival, ticket.number, reason="Mine now"),
        lambda: actions.reissue(rival, ticket.number),
    ):
        with pytest.raises(NotFound):
            attempt()
    with pytest.raises(NotOrganizer):
        actions.revoke(_acting("customer@payflow.test"), ticket.number, reason="x")
    assert _ticket(ticket.number).model_dump() == ticket.model_dump()
    assert _count(EmailOutbox) == emails and _revoked_tokens() == []


# Figures -------------------------------------------------------------------------


def _paid_at(order: Order, moment: datetime) -> None:
    with write_transaction() as session:
        stored = session.get(Order, order.id)
        assert stored is not None
        stored.paid_at = moment


def test_event_figures_on_a_small_sale(seeded: str) -> None:
    standard, vip = factories.ticket_type("Standard"), factories.ticket_type("VIP")
    two_standard = factories.paid_order(quantity=2)
    one_vip = factories.paid_order(quantity=1, type_name="VIP", email="grace@example.com")
    factories.order(quantity=3, email="waiting@example.com")  # held, not paid
    _paid_at(two_standard, datetime(2030, 4, 1, 10, 0, tzinfo=UTC))
    _paid_at(one_vip, datetime(2030, 4, 3, 23, 59, tzinfo=UTC))
    gate = Gate(event_id=standard.event_id, name="North", operator="Olga")
    doors = datetime(2030, 5, 1, 19, 0, tzinfo=UTC)
    with write_transaction() as session:  # the event starts then: its tickets are valid
        event = session.get(Event, standard.event_id)
        assert event is not None
        event.starts_at = doors
    for ticket, minutes in zip(
        factories.tickets_of(two_standard) + factories.tickets_of(one_vip), (2, 20, 50), strict=True
    ):
        assert checkin.check_in(gate, ticket.qr_token, scanned_at=doors + timedelta(minutes=minutes)).ok

    stats = event_stats(standard.event_id, "PLN")

    figures = {t.name: (t.capacity, t.sold, t.held, t.remaining, t.checked_in) for t in stats.types}
    assert figures == {"Standard": (200, 2, 3, 195, 2), "VIP": (20, 1, 0, 19, 1)}
    assert stats.revenue_minor == 2 * standard.price_minor + vip.price_minor == 59000
    assert stats.revenue_per_day == [(date(2030, 4, 1), 24000), (date(2030, 4, 3), 35000)]
    assert stats.orders_by_status == {"fulfilled": 2, "pending": 1}
    assert stats.rails == [("stripe", 2, 59000)]
    # Quarter-hours from the first check-in to the last, the empty one included.
    assert stats.checkins == [
        (doors, 1),
        (doors + timedelta(minutes=15), 1),
        (doors + timedelta(minutes=30), 0),
        (doors + timedelta(minutes=45), 1),
    ]
    assert (stats.tickets_sold, stats.checked_in) == (3, 3)


def test_figures_of_another_event_stay_apart(seeded: str) -> None:
    factories.paid_order(quantity=2)
    kes_event = factories.ticket_type("Regular").event_id
    stats = event_stats(kes_event, "KES")
    assert (stats.revenue_minor, stats.tickets_sold, stats.orders_by_status, stats.rails) == (0, 0, {}, [])
    assert {t.name: t.remaining for t in stats.types} == {"Regular": 500, "Early Bird": 100}


# Attendees -----------------------------------------------------------------------


def _rename(email: str, full_name: str) -> None:
    with write_transaction() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        user.full_name = full_name


def test_attendees_are_found_by_name_email_order_number_or_ticket_number(seeded: str) -> None:
    ada = factories.paid_order(quantity=2)
    grace = factories.paid_order(quantity=1, type_name="VIP", email="grace@example.com")
    _rename("grace@example.com", "Grace Hopper")
    event_id = factories.ticket_type("Standard").event_id
    ada_tickets = sorted(t.number for t in factories.tickets_of(ada))
    (grace_ticket,) = factories.tickets_of(grace)

    def found(search: str) -> list[str]:
        return sorted(a.ticket_number for a in attendees(event_id, AttendeeFilter(search=search)))

    assert found("") == sorted([*ada_tickets, grace_ticket.number])
    assert found("hopper") == [grace_ticket.number]
    assert found("ADA@EXAMPLE") == ada_tickets
    assert found(ada.number.lower()) == ada_tickets
    assert found(grace_ticket.number.lower()) == [grace_ticket.number]
    assert found("nobody") == []

    (line,) = attendees(event_id, AttendeeFilter(search="grace"))
    assert (line.holder, line.email, line.ticket_type, line.order_number, line.order_status) == (
        "Grace Hopper",
        "grace@example.com",
        "VIP",
        grace.number,
        "fulfilled",
    )


def test_attendees_are_filtered_by_order_status_type_and_check_in(seeded: str) -> None:
    ada = factories.paid_order(quantity=2)
    grace = factories.paid_order(quantity=1, type_name="VIP", email="grace@example.com")
    vip = factories.ticket_type("VIP")
    event_id = vip.event_id
    first, second = factories.tickets_of(ada)
    (grace_ticket,) = factories.tickets_of(grace)
    assert checkin.check_in(Gate(event_id=event_id, name="North", operator="Olga"), first.number).ok

    def found(where: AttendeeFilter) -> list[str]:
        return sorted(a.ticket_number for a in attendees(event_id, where))

    assert found(AttendeeFilter(ticket_type_id=pk(vip))) == [grace_ticket.number]
    assert found(AttendeeFilter(checked_in="yes")) == [first.number]
    assert found(AttendeeFilter(checked_in="no")) == sorted([second.number, grace_ticket.number])
    assert found(AttendeeFilter(status="fulfilled", search="ada@")) == sorted([first.number, second.number])
    assert found(AttendeeFilter(status="cancelled")) == []
    (checked,) = attendees(event_id, AttendeeFilter(checked_in="yes"))
    assert checked.gate == "North" and checked.checked_in_at is not None
    # Another event's list does not show them.
    assert attendees(factories.ticket_type("Regular").event_id) == []


def test_orders_without_tickets_are_listed_and_a_typed_wildcard_matches_itself(seeded: str) -> None:
    paid = factories.paid_order()
    waiting = factories.order(quantity=2, email="waiting@example.com")  # card orders get tickets when paid
    event_id = factories.ticket_type("Standard").event_id
    rows = attendees(event_id)
    by_order = {a.order_number: a for a in rows}
    assert (by_order[waiting.number].ticket_number, by_order[waiting.number].order_status) == ("", "pending")
    assert [a.order_number for a in attendees(event_id, AttendeeFilter(status="pending"))] == [waiting.number]
    assert len(rows) == 2  # one line for the paid ticket, one for the order still waiting
    assert paid.number in by_order
    assert attendees(event_id, AttendeeFilter(search="%")) == []
    assert attendees(event_id, AttendeeFilter(search="_")) == []


# Pictures ------------------------------------------------------------------------


def _png(size: tuple[int, int] = (32, 16), noise: bool = False) -> bytes:
    image = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, (200, 30, 60))
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_png_is_stored_under_a_random_name_and_served_back(sqlite_db: str) -> None:
    data = _png()
    name = images.store(data)
    assert name.endswith(".png") and name != images.store(data)
    assert images.load(name) == (data, "image/png")
    assert images.url(name) == f"/api/event-images/{name}"


def test_what_is_not_a_png_jpeg_or_webp_is_refused(sqlite_db: str) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    for data in (b"<svg xmlns='http://www.w3.org/2000/svg'/>", _png()[:40], gif.getvalue(), b""):
        with pytest.raises(InvalidInput) as refused:
            images.store(data)
        assert refused.value.errors == {"image": "Upload a PNG, JPEG or WebP picture."}


def test_a_picture_over_5_mb_is_refused(sqlite_db: str) -> None:
    large = _png((1400, 1400), noise=True)  # noise does not compress
    assert len(large) > images.MAX_BYTES
    with pytest.raises(InvalidInput) as refused:
        images.store(large)
    assert refused.value.errors == {"image": "The picture is larger than 5 MB."}


def test_load_serves_only_names_it_gave_out(sqlite_db: str) -> None:
    name = images.store(_png())
    data_dir = images._folder().parent
    (data_dir / "secret.png").write_bytes(_png())
    for asked in (
        "../secret.png",
        f"../event_images/{name}",
        "..%2Fsecret.png",
        "/etc/passwd",
        name.replace(".png", ".gif"),
        "A" * 20 + ".png",  # well formed, never stored
    ):
        assert images.load(asked) is None, asked


def test_a_small_file_declaring_a_huge_picture_is_refused(sqlite_db: str) -> None:
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, format="PNG")  # 81 megapixels in a few kB
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(InvalidInput) as refused:
        images.store(bomb.getvalue())
    assert refused.value.errors == {"image": "The picture is larger than 40 megapixels."}


def test_a_sale_window_without_an_end_closes_when_the_event_starts(seeded: str) -> None:
    standard = factories.ticket_type("Standard")
    starts = _event(standard.event_id).starts_at
    assert sale_state(standard, starts - timedelta(minutes=1), event_starts_at=starts) == "on_sale"
    assert sale_state(standard, starts, event_starts_at=starts) == "ended"
