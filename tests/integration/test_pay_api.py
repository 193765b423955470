"""``POST /pay`` (the dry run and the purchase) and ticket QR downloads, over HTTP
with the session cookie the pages use."""

from __future__ import annotations

import httpx
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.core.money import Money
from payflow_app.models import Ticket, User
from payflow_app.services.accounts import customers, wallet
from payflow_app.services.payments import account_overview
from payflow_app.services.payments.fulfilment import fulfil_payment
from payflow_app.services.payments.purchases import place_top_up
from tests import factories


def _signed_in(http: httpx.Client, email: str) -> int:
    with read_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
    http.cookies.set("payflow_session", customers.issue_session_token(user))
    http.headers["Origin"] = str(http.base_url).rstrip("/")  # as our pages send it
    return user.id  # type: ignore[return-value]


def _tickets(quantity: int, *, dry_run: bool = True) -> dict[str, object]:
    """A /pay body for Standard tickets of the Warsaw demo event."""
    standard = factories.ticket_type("Standard").id
    return {"kind": "ticket_order", "ticketTypeId": standard, "quantity": quantity, "dryRun": dry_run}


def _fund(user_id: int, minor: int) -> None:
    order = place_top_up(user_id=user_id, amount=Money(minor, "PLN"))
    payment = factories.pending_payment(order, reference=f"cs_test_fund_{minor}")
    fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment))


def test_pay_needs_a_session_and_valid_json(http: httpx.Client) -> None:
    refused = http.post("/pay", json={"kind": "plan_upgrade", "plan": "pro"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_signed_in"
    _signed_in(http, "customer@payflow.test")
    assert http.post("/pay", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    bad = http.post("/pay", json={"kind": "ticket_order", "ticketTypeId": "one", "quantity": 1})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
    assert http.post("/pay", json={"kind": "lottery"}).status_code == 400
    assert (
        http.post("/pay", json={"kind": "wallet_topup", "amount": "1", "currency": "PLN"}).status_code == 400
    )


def test_dry_run_answers_the_method_and_changes_nothing(http: httpx.Client) -> None:
    user_id = _signed_in(http, "customer@payflow.test")
    body = {"kind": "ticket_order", "ticketTypeId": factories.ticket_type("Standard").id, "quantity": 2}
    card = http.post("/pay", json=body).json()
    assert card == {
        "dryRun": True,
        "kind": "ticket_order",
        "method": "card",
        "amount": {"minor": 24000, "currency": "PLN"},
        "walletBalance": {"minor": 0, "currency": "PLN"},
        "balanceAfter": None,
    }
    _fund(user_id, 30000)
    chosen = http.post("/pay", json=body).json()
    assert (chosen["method"], chosen["balanceAfter"]) == ("wallet", {"minor": 6000, "currency": "PLN"})
    assert account_overview.orders(user_id=user_id)[0].kind == "wallet_topup"  # no order was placed
    assert wallet.balance(user_id=user_id, currency="PLN") == Money(30000, "PLN")


def test_paying_from_the_wallet_through_the_api_settles_at_once(http: httpx.Client) -> None:
    user_id = _signed_in(http, "customer@payflow.test")
    _fund(user_id, 30000)
    paid = http.post("/pay", json=_tickets(2, dry_run=False))
    assert paid.status_code == 201, paid.text
    answer = paid.json()
    assert (answer["method"], answer["redirectUrl"]) == ("wallet", None)
    assert answer["paymentReference"].startswith("wlt_")
    status = http.get("/payments/check-status", params={"session_id": answer["paymentReference"]}).json()
    assert (status["isProcessed"], status["paymentStatus"], status["paymentType"]) == (
        True,
        "succeeded",
        "ticket_order",
    )
    assert len(account_overview.tickets(user_id=user_id)) == 2
    # The balance is now 60.00 zł: the same purchase goes to the card.
    again = http.post("/pay", json=_tickets(2)).json()
    assert again["method"] == "card"


def test_a_ticket_png_is_only_for_its_owner(http: httpx.Client) -> None:
    owner_id = _signed_in(http, "customer@payflow.test")
    _fund(owner_id, 30000)
    assert http.post("/pay", json=_tickets(1, dry_run=False)).status_code == 201
    with read_session() as session:
        number = session.exec(select(Ticket.number)).one()
    png = http.get(f"/api/tickets/{number}/qr.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert number in png.headers["content-disposition"]
    _signed_in(http, "admin@payflow.test")
    assert http.get(f"/api/tickets/{number}/qr.png").status_code == 404
    assert account_overview.tickets(user_id=owner_id)[0].number == number
    with read_session() as session:
        admin = session.exec(select(User).where(User.email == "admin@payflow.test")).one()
    assert account_overview.tickets(user_id=admin.id) == []  # type: ignore[arg-type]
    http.cookies.clear()
    assert http.get(f"/api/tickets/{number}/qr.png").status_code == 401


def test_gallery_payment_conflicts_are_409(http: httpx.Client) -> None:
    from payflow_app.services.payments.purchases import create_gallery

    user_id = _signed_in(http, "customer@payflow.test")
    gallery = create_gallery(user_id=user_id, title="Holidays")
    body = {"kind": "gallery", "galleryId": gallery.id, "dryRun": False}
    first = http.post("/pay", json=body)
    assert first.status_code == 201 and first.json()["method"] == "card"
    second = http.post("/pay", json=body)
    assert second.status_code == 409 and second.json()["error"]["code"] == "gallery_locked"
