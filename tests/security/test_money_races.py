"""Money races: twenty purchases of one benefit at once, against one wallet, pay for it
once. Eligibility (plan order, gallery lock, …) is judged again inside the locked
transaction that takes the money, and a card payment for a benefit the customer
already has is refunded, never granted twice and never a downgrade. The books always
balance: every ledger row's running balance is the sum before it, never negative."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest
from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.core.errors import DomainError
from payflow_app.core.money import Money
from payflow_app.core.states import PaymentStatus
from payflow_app.models import Gallery, LedgerEntry, Order, Payment, Refund, Ticket, User, Wallet, pk
from payflow_app.providers.base import PaymentTruth, ProviderRefundStatus, ProviderStatus, RefundResult
from payflow_app.seed import seed
from payflow_app.services.accounts import plans, wallet
from payflow_app.services.checkout.orders import CheckoutForm, place_order
from payflow_app.services.payments import attempts, fulfilment, late_money, purchases
from payflow_app.services.payments.purchases import Method
from tests import factories
from tests.integration.conftest import wait_until
from tests.integration.helpers import CARD
from tests.integration.test_pay_api import _signed_in

T = TypeVar("T")
CUSTOMER = "customer@payflow.test"
STUDIO, PRO = plans.PLANS["studio"].price.amount, plans.PLANS["pro"].price.amount


def _customer_id() -> int:
    with read_session() as session:
        return session.exec(select(User.id).where(User.email == CUSTOMER)).one()  # type: ignore[return-value]


def _fund(user_id: int, minor: int) -> None:
    """A card top-up, fulfilled as the webhook would."""
    order = purchases.place_top_up(user_id=user_id, amount=Money(minor, "PLN"))
    payment = factories.pending_payment(order, reference=f"cs_fund_{order.number}")
    fulfilment.fulfil_payment(payment_id=pk(payment), truth=factories.paid_truth(payment))


def _all_at_once(jobs: Sequence[Callable[[], T]]) -> list[T]:
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T:
        start.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _buy(place: Callable[[], Order]) -> Callable[[], str]:
    """What the dashboard and ``POST /pay`` do: place the order, pay it from the
    wallet. Answers ``paid`` or the refusal's code."""

    def buy() -> str:
        try:
            order = place()
            asyncio.run(purchases.pay(order_id=pk(order), method=Method.WALLET))
        except DomainError as refused:
            return refused.code
        return "paid"

    return buy


def _tickets(user_id: int, quantity: int = 1) -> Order:
    """A signed-in customer's ticket order, as ``POST /pay`` places it."""
    form = CheckoutForm(
        full_name="Customer",
        email=CUSTOMER,
        phone="",
        ticket_type_id=pk(factories.ticket_type("Standard")),
        quantity=quantity,
        user_id=user_id,
    )
    return place_order(form=form)


def _card_outcome(payment: Payment) -> str:
    """The provider's success for a card payment, applied as the webhook would."""
    return fulfilment.fulfil_payment(payment_id=pk(payment), truth=factories.paid_truth(payment)).value


def _verify(payment: Payment) -> None:
    """Ask the provider and apply its answer (webhook worker, landing page, reconciler)."""
    asyncio.run(attempts.verify_payment(payment_id=pk(payment)))


def _books(user_id: int) -> tuple[int, list[LedgerEntry]]:
    """The wallet's balance, after checking it is the ledger's sum and that every
    row's running balance follows the row before it and is never negative."""
    with read_session() as session:
        row = session.exec(select(Wallet).where(Wallet.user_id == user_id, Wallet.currency == "PLN")).one()
        entries = list(
            session.exec(
                select(LedgerEntry).where(LedgerEntry.wallet_id == row.id).order_by(col(LedgerEntry.id))
            ).all()
        )
    running = 0
    for entry in entries:
        running += entry.amount_minor
        assert entry.balance_after_minor == running >= 0, entry
    assert row.balance_minor == running == wallet.balance(user_id=user_id, currency="PLN").amount
    return running, entries


def _plan_of(user_id: int) -> tuple[str, int, int]:
    with read_session() as session:
        user = session.get(User, user_id)
    assert user is not None
    return user.plan_code, user.gallery_limit, user.storage_limit_mb


def _studio() -> tuple[str, int, int]:
    studio = plans.PLANS["studio"]
    return studio.code, studio.gallery_limit, studio.storage_limit_mb


def _paid_plans(user_id: int) -> list[str]:
    """The plans paid for, in the order they were paid."""
    return [order.plan_code or "" for order in _paid_orders(user_id, "plan_upgrade")]


def _paid_orders(user_id: int, kind: str) -> list[Order]:
    with read_session() as session:
        return list(
            session.exec(
                select(Order)
                .where(Order.user_id == user_id, Order.kind == kind, col(Order.paid_at).is_not(None))
                .order_by(col(Order.paid_at))
            ).all()
        )


def test_twenty_wallet_upgrades_to_one_plan_pay_once(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    _fund(user_id, 2 * STUDIO + 1000)  # enough for two: the second must still be refused
    place = _buy(lambda: purchases.place_plan_upgrade(user_id=user_id, plan_code="studio"))
    results = _all_at_once([place] * 20)
    assert Counter(results) == {"paid": 1, "plan_not_upgrade": 19}
    balance, entries = _books(user_id)
    assert balance == STUDIO + 1000
    assert [e.entry_type for e in entries] == ["top_up", "purchase"]
    assert _plan_of(user_id) == _studio()
    assert len(_paid_orders(user_id, "plan_upgrade")) == 1
    with read_session() as session:  # the refused orders hold nothing and wait for nothing
        open_orders = session.exec(
            select(Order).where(Order.kind == "plan_upgrade", Order.status == "pending")
        ).all()
    assert open_orders == []


def test_parallel_pro_and_studio_orders_end_on_studio_each_paid_at_most_once(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    _fund(user_id, 10 * (PRO + STUDIO))
    jobs = [
        _buy(partial(purchases.place_plan_upgrade, user_id=user_id, plan_code=code))
        for code in ("pro", "studio") * 10
    ]
    results = _all_at_once(jobs)
    assert set(results) <= {"paid", "plan_not_upgrade"}
    paid = _paid_plans(user_id)
    # Studio once; Pro only if it came first (then Studio is still an upgrade).
    assert paid in (["studio"], ["pro", "studio"]) and results.count("paid") == len(paid)
    assert _plan_of(user_id) == _studio()
    balance, entries = _books(user_id)
    assert balance == 10 * (PRO + STUDIO) - sum(plans.PLANS[code].price.amount for code in paid)
    assert [-e.amount_minor for e in entries if e.entry_type == "purchase"] == [
        plans.PLANS[code].price.amount for code in paid
    ]


def test_twenty_publications_of_one_gallery_pay_once(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    _fund(user_id, 20 * plans.GALLERY_PUBLICATION_PRICE.amount)
    gallery = purchases.create_gallery(user_id=user_id, title="Wedding")
    place = _buy(partial(purchases.place_gallery_publication, user_id=user_id, gallery_id=pk(gallery)))
    results = _all_at_once([place] * 20)
    assert results.count("paid") == 1
    assert set(results) - {"paid"} <= {"gallery_locked", "gallery_active"}
    balance, _entries = _books(user_id)
    assert balance == 19 * plans.GALLERY_PUBLICATION_PRICE.amount
    with read_session() as session:
        row = session.get(Gallery, gallery.id)
    assert row is not None and (row.status, row.locked_by_payment_id) == ("active", None)
    assert len(_paid_orders(user_id, "gallery")) == 1


def test_concurrent_confirmations_of_top_ups_credit_each_once(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    amounts = [1000, 2000, 3000, 4000, 5000]
    paid = []
    for minor in amounts:
        order = purchases.place_top_up(user_id=user_id, amount=Money(minor, "PLN"))
        paid.append(factories.pending_payment(order, reference=f"cs_topup_{minor}"))
    # The webhook, its retries and the landing page, four times per top-up, all at once.
    jobs = [
        partial(fulfilment.fulfil_payment, payment_id=pk(p), truth=factories.paid_truth(p)) for p in paid * 4
    ]
    outcomes = _all_at_once(jobs)
    assert set(outcomes) == {fulfilment.Outcome.FULFILLED}
    balance, entries = _books(user_id)
    assert balance == sum(amounts)
    assert sorted(e.payment_id for e in entries) == sorted(pk(p) for p in paid)
    assert len(_paid_orders(user_id, "wallet_topup")) == 5
    # And a wallet never funds itself.
    order = purchases.place_top_up(user_id=user_id, amount=Money(1000, "PLN"))
    with pytest.raises(DomainError) as refused:
        purchases.pay_from_wallet(order_id=pk(order))
    assert refused.value.code == "top_up_from_wallet" and _books(user_id)[0] == sum(amounts)


def test_twenty_ticket_orders_against_one_wallet_never_overdraw_it(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    standard = factories.ticket_type("Standard")
    _fund(user_id, 4 * standard.price_minor + 5000)  # four tickets and a bit
    place = _buy(lambda: _tickets(user_id))
    results = _all_at_once([place] * 20)
    assert Counter(results) == {"paid": 4, "insufficient_funds": 16}
    balance, _entries = _books(user_id)
    assert balance == 5000
    paid = _paid_orders(user_id, "ticket_order")
    with read_session() as session:
        tickets = session.exec(select(Ticket).where(Ticket.status == "valid")).all()
    assert len(paid) == 4 and sorted(t.order_id for t in tickets) == sorted(pk(o) for o in paid)
    assert factories.ticket_type("Standard").reserved == standard.reserved + 4  # refused ones gave seats back
    # One ticket order paid from twenty places at once is paid once.
    _fund(user_id, 20 * standard.price_minor)
    order = _tickets(user_id)

    def pay_it() -> str:
        try:
            purchases.pay_from_wallet(order_id=pk(order))
        except DomainError as refused:
            return refused.code
        return "paid"

    assert Counter(_all_at_once([pay_it] * 20)) == {"paid": 1, "order_not_pending": 19}
    assert _books(user_id)[0] == 5000 + 19 * standard.price_minor


def test_card_and_wallet_racing_for_one_plan_grant_it_once(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    _fund(user_id, 10 * STUDIO)
    cards = []
    for _ in range(10):  # card checkouts opened while the customer was still on Free
        order = purchases.place_plan_upgrade(user_id=user_id, plan_code="studio")
        cards.append(factories.pending_payment(order, reference=f"cs_plan_{order.number}"))
    wallet_buy = _buy(lambda: purchases.place_plan_upgrade(user_id=user_id, plan_code="studio"))
    jobs: list[Callable[[], str]] = [wallet_buy] * 10 + [partial(_card_outcome, p) for p in cards]
    results = Counter(_all_at_once(jobs))
    kept = results["paid"] + results["fulfilled"]
    assert kept == 1, results
    assert results["refund_due"] == 10 - results["fulfilled"]
    assert results["plan_not_upgrade"] == 10 - results["paid"]
    assert _plan_of(user_id) == _studio()
    assert _books(user_id)[0] == 10 * STUDIO - results["paid"] * STUDIO
    with read_session() as session:
        refunds = session.exec(select(Refund)).all()
        refused_orders = session.exec(
            select(Order.status).where(col(Order.id).in_([r.order_id for r in refunds]))
        ).all()
    assert len(refunds) == results["refund_due"] and set(refused_orders) <= {"cancelled"}
    assert len({r.idempotency_key for r in refunds}) == len(refunds)


@dataclass
class FakeCardProvider:
    """A provider that says every payment succeeded and records refunds by key."""

    identifier: str = "stripe"
    refunds: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth:
        payment = attempts.find_payment_by_reference(provider_reference)
        assert payment is not None
        amount = Money(payment.amount_minor, payment.currency)
        return PaymentTruth(provider_reference, ProviderStatus.SUCCEEDED, amount, receipt_number="R1")

    async def refund_payment(
        self, provider_reference: str, *, amount: Money, idempotency_key: str, reason: str
    ) -> RefundResult:
        with self.lock:  # the same key finds the same refund, as at a real provider
            if idempotency_key not in self.refunds:
                self.refunds.append(idempotency_key)
        return RefundResult(f"re_{self.refunds.index(idempotency_key)}", ProviderRefundStatus.SUCCEEDED)

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        return truth


@pytest.fixture
def card_provider(monkeypatch: pytest.MonkeyPatch) -> FakeCardProvider:
    """The card rail the payments and late-money services talk to, recording refunds."""
    provider = FakeCardProvider()
    monkeypatch.setattr(attempts, "get_provider", lambda _id: provider)
    monkeypatch.setattr(late_money, "get_provider", lambda _id: provider)
    return provider


def test_a_card_upgrade_paid_after_the_wallet_granted_the_plan_is_refunded(
    any_db: str, card_provider: FakeCardProvider
) -> None:
    provider = card_provider
    seed()
    user_id = _customer_id()
    _fund(user_id, STUDIO)
    # Two card checkouts (Studio, Pro) opened while on Free, then Studio bought from the wallet.
    late_studio = purchases.place_plan_upgrade(user_id=user_id, plan_code="studio")
    late_pro = purchases.place_plan_upgrade(user_id=user_id, plan_code="pro")
    studio_card = factories.pending_payment(late_studio, reference="cs_late_studio")
    pro_card = factories.pending_payment(late_pro, reference="cs_late_pro")
    assert _buy(lambda: purchases.place_plan_upgrade(user_id=user_id, plan_code="studio"))() == "paid"
    # The card money lands: webhook, landing page and reconciler all at once.
    _all_at_once([partial(_verify, p) for p in (studio_card, pro_card) * 3])
    assert _plan_of(user_id) == _studio()  # neither granted again nor downgraded
    assert _books(user_id)[0] == 0  # the wallet paid once; the card money is not in it
    with read_session() as session:
        for order, card in ((late_studio, studio_card), (late_pro, pro_card)):
            db_order = session.get(Order, order.id)
            db_card = session.get(Payment, card.id)
            refund = session.exec(select(Refund).where(Refund.payment_id == card.id)).one()
            assert db_order is not None and db_card is not None
            assert (db_order.status, db_order.delivered_at) == ("cancelled", None)
            assert (db_card.status, db_card.review_code) == ("refunded", "late_money")
            assert (refund.status, refund.amount_minor) == ("succeeded", order.amount_minor)
            assert refund.idempotency_key == f"refund_{card.idempotency_key}"
    assert sorted(provider.refunds) == sorted(f"refund_idem-{r}" for r in ("cs_late_studio", "cs_late_pro"))
    # Asking again sends nothing more.
    _verify(studio_card)
    assert len(provider.refunds) == 2


def test_a_card_gallery_publication_after_the_gallery_went_live_is_refunded(
    sqlite_db: str, card_provider: FakeCardProvider
) -> None:
    provider = card_provider
    seed()
    user_id = _customer_id()
    gallery = purchases.create_gallery(user_id=user_id, title="Holidays")
    first = purchases.place_gallery_publication(user_id=user_id, gallery_id=pk(gallery))
    card = factories.pending_payment(first, reference="cs_gallery_first")
    attempts.close_payment(payment_id=pk(card), status=PaymentStatus.EXPIRED)
    _fund(user_id, plans.GALLERY_PUBLICATION_PRICE.amount)
    place = _buy(partial(purchases.place_gallery_publication, user_id=user_id, gallery_id=pk(gallery)))
    assert place() == "paid"
    _verify(card)
    with read_session() as session:
        db_card = session.get(Payment, card.id)
        row = session.get(Gallery, gallery.id)
    assert db_card is not None and db_card.status == "refunded" and len(provider.refunds) == 1
    assert row is not None and (row.status, row.locked_by_payment_id) == ("active", None)
    assert len(_paid_orders(user_id, "gallery")) == 1


def _post_all(server: str, cookies: httpx.Cookies, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    """POST each body to /pay at once, each from its own connection."""

    def post(body: dict[str, object]) -> Callable[[], httpx.Response]:
        def send() -> httpx.Response:
            with httpx.Client(base_url=server, cookies=cookies, timeout=60) as client:
                return client.post("/pay", json=body, headers={"origin": server})

        return send

    return _all_at_once([post(body) for body in bodies])


def test_twenty_parallel_pay_requests_for_one_plan_upgrade_once(server: str, http: httpx.Client) -> None:
    user_id = _signed_in(http, CUSTOMER)
    _fund(user_id, 2 * STUDIO)
    body = {"kind": "plan_upgrade", "plan": "studio", "dryRun": False}
    answers = _post_all(server, http.cookies, [body] * 20)
    assert Counter(a.status_code for a in answers) == {201: 1, 409: 19}, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"plan_not_upgrade"}
    assert next(a for a in answers if a.status_code == 201).json()["method"] == "wallet"
    assert _books(user_id)[0] == STUDIO
    assert _plan_of(user_id) == _studio()


def test_parallel_pro_and_studio_requests_never_leave_the_lower_plan(server: str, http: httpx.Client) -> None:
    user_id = _signed_in(http, CUSTOMER)
    _fund(user_id, 10 * (PRO + STUDIO))
    bodies: list[dict[str, object]] = [
        {"kind": "plan_upgrade", "plan": code, "dryRun": False} for code in ("pro", "studio") * 10
    ]
    answers = _post_all(server, http.cookies, bodies)
    assert {a.status_code for a in answers} <= {201, 409}
    paid = _paid_plans(user_id)
    assert paid in (["studio"], ["pro", "studio"])
    assert [a.status_code for a in answers].count(201) == len(paid)
    assert _plan_of(user_id) == _studio()
    assert _books(user_id)[0] == 10 * (PRO + STUDIO) - sum(plans.PLANS[c].price.amount for c in paid)


def test_twenty_parallel_pay_requests_for_one_gallery_publish_it_once(
    server: str, http: httpx.Client
) -> None:
    user_id = _signed_in(http, CUSTOMER)
    price = plans.GALLERY_PUBLICATION_PRICE.amount
    _fund(user_id, 20 * price)
    gallery = purchases.create_gallery(user_id=user_id, title="Tatra hikes")
    body: dict[str, object] = {"kind": "gallery", "galleryId": gallery.id, "dryRun": False}
    answers = _post_all(server, http.cookies, [body] * 20)
    assert Counter(a.status_code for a in answers) == {201: 1, 409: 19}, [a.text for a in answers]
    refusals = {a.json()["error"]["code"] for a in answers if a.status_code == 409}
    assert refusals <= {"gallery_locked", "gallery_active"}
    assert _books(user_id)[0] == 19 * price
    with read_session() as session:
        row = session.get(Gallery, gallery.id)
    assert row is not None and (row.status, row.locked_by_payment_id) == ("active", None)


def test_a_stripe_checkout_paid_after_the_wallet_upgraded_is_refunded_at_stripe(
    server: str, http: httpx.Client
) -> None:
    user_id = _signed_in(http, CUSTOMER)
    ours = {"origin": server}
    body = {"kind": "plan_upgrade", "plan": "studio", "dryRun": False}
    card = http.post("/pay", json=body, headers=ours)  # an empty wallet: Stripe Checkout
    assert card.status_code == 201 and card.json()["method"] == "card", card.text
    session_id = card.json()["paymentReference"]
    _fund(user_id, STUDIO)
    by_wallet = http.post("/pay", json=body, headers=ours)
    assert by_wallet.status_code == 201 and by_wallet.json()["method"] == "wallet", by_wallet.text
    # The customer also pays the checkout page left open in another tab.
    paid_page = http.post(f"/sandbox/stripe/pay/{session_id}", data=CARD, headers=ours)
    assert paid_page.status_code == 303

    def refunded() -> Payment | None:
        payment = attempts.find_payment_by_reference(session_id)
        return payment if payment is not None and payment.status == "refunded" else None

    payment = wait_until(refunded, what="the late card money to be refunded")
    assert isinstance(payment, Payment)
    with read_session() as session:
        refund = session.exec(select(Refund).where(Refund.payment_id == payment.id)).one()
        order = session.get(Order, payment.order_id)
    assert (refund.status, refund.amount_minor) == ("succeeded", STUDIO)
    assert (refund.provider_reference or "").startswith("re_")
    assert refund.idempotency_key == f"refund_{payment.idempotency_key}"
    assert order is not None and (order.status, order.delivered_at) == ("cancelled", None)
    assert _plan_of(user_id) == _studio() and _paid_plans(user_id) == ["studio"]
    assert _books(user_id)[0] == 0


def test_pay_sells_no_membership(server: str, http: httpx.Client) -> None:
    """A membership has its own card flow; through /pay it used to become a top-up."""
    user_id = _signed_in(http, CUSTOMER)
    body = {"kind": "membership", "amount": "50", "currency": "PLN", "dryRun": False}
    refused = http.post("/pay", json=body, headers={"origin": server})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_input"
    with read_session() as session:
        assert session.exec(select(Order).where(Order.user_id == user_id)).all() == []
