"""The rails of the reliability suite (``test_reliability.py``): payments opened the
way the app opens them (its services, in the test's thread) and paid the way a
customer pays (the sandbox's hosted page, 3-D Secure page or phone, over HTTP) while
the sandbox holds its own callbacks back; each purchase keeps the callbacks its
provider would have sent, built from the sandbox's objects by the sandbox's own code,
so that the test decides how they arrive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

import httpx
from sqlmodel import col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.money import Money
from payflow_app.models import Event, Payment, SandboxObject, TicketType, User, pk, utcnow
from payflow_app.providers import get_provider
from payflow_app.sandbox import faults
from payflow_app.sandbox.delivery import stripe_signature_header
from payflow_app.sandbox.payhero import prompts
from payflow_app.sandbox.payhero import store as payhero_store
from payflow_app.sandbox.univapay import store as univapay_store
from payflow_app.sandbox.univapay.objects import public
from payflow_app.services.accounts import memberships
from payflow_app.services.accounts.customers import hash_password
from payflow_app.services.checkout.orders import CheckoutForm
from payflow_app.services.payments import attempts, card, mpesa, purchases
from payflow_app.settings import get_settings

RAILS = ("stripe", "univapay", "payhero")
STRIPE_CARD = {"card_number": "4242424242424242", "expiry": "12 / 34", "cvc": "123", "email": "r@example.com"}
# UnivaPay's sandbox asks for 3-D Secure on this card: the charge waits at the issuer,
# so it is the webhook (not the charge request) that brings the final word.
THREE_DS_CARD = "4000000000003220"
T = TypeVar("T")


@dataclass(frozen=True)
class Callback:
    """One callback as its provider sends it: where to, the raw body, the credential."""

    provider: str
    path: str
    body: str

    def headers(self) -> dict[str, str]:
        settings = get_settings()
        headers = {"Content-Type": "application/json"}
        if self.provider == "stripe":  # signed afresh for every copy, as Stripe does
            headers["Stripe-Signature"] = stripe_signature_header(self.body, settings.stripe_webhook_secret)
        elif self.provider == "univapay":
            headers["Authorization"] = settings.univapay_webhook_auth
        return headers

    @property
    def event_id(self) -> str:
        """The id the app stores it under (the provider module's own parsing)."""
        received = {name.lower(): value for name, value in self.headers().items()}  # as Starlette has them
        event = get_provider(self.provider).parse_webhook(self.body.encode(), received)
        assert event.event_id is not None
        return event.event_id


@dataclass
class Purchase:
    """An order with its payment attempt on one rail (``reference`` is the provider's)."""

    order_id: int
    payment_id: int
    reference: str
    amount_minor: int
    phone: str = ""
    issuer_url: str = ""  # UnivaPay: the 3-D Secure page
    callbacks: list[Callback] = field(default_factory=list)


def hold_back_sandbox_callbacks() -> None:
    """The sandbox sends none of its own callbacks: the test delivers them."""
    for provider in RAILS:
        faults.save_faults(provider, faults.Faults(drop_rate=1.0))


class Rail(Protocol):
    """What the app sells on one rail, and how its customers pay."""

    provider: str
    emails: frozenset[str]  # the email templates each order sends
    seats: int  # tickets each order issues

    async def open(self, client: httpx.AsyncClient, index: int) -> Purchase: ...

    async def pay(self, client: httpx.AsyncClient, purchase: Purchase) -> list[Callback]: ...


def new_customer(email: str) -> int:
    """A registered customer (with a password: a guest's first paid order would add a
    welcome email, tested in tests/security/test_login_throttle.py)."""
    with write_transaction() as session:
        user = User(email=email, full_name="Rel Iability", role="customer", password_hash=hash_password("x"))
        session.add(user)
        session.flush()
        return pk(user)


def new_ticket_type(*, currency: str, price_minor: int, capacity: int = 2000) -> int:
    """An event of its own with room for every order of a test (the demo events are
    smaller than a burst)."""
    with write_transaction() as session:
        organizer = session.exec(select(User).where(User.role == "organizer")).first()
        assert organizer is not None, "seeded data has an organizer"
        slug = f"reliability-{currency.lower()}-{time.monotonic_ns()}"
        event = Event(
            slug=slug,
            title=f"Reliability Night ({currency})",
            venue="Test Hall",
            starts_at=utcnow() + timedelta(days=30),
            currency=currency,
            organizer_id=pk(organizer),
        )
        session.add(event)
        session.flush()
        ticket_type = TicketType(event_id=pk(event), name="Burst", price_minor=price_minor, capacity=capacity)
        session.add(ticket_type)
        session.flush()
        return pk(ticket_type)


def _payment(payment_id: int) -> Payment:
    with read_session() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment


def _sandbox_event(session_id: str) -> dict[str, Any]:
    """The ``checkout.session.completed`` the sandbox made when the session was paid."""
    with read_session() as session:
        rows = session.exec(
            select(SandboxObject).where(
                SandboxObject.kind == "event", col(SandboxObject.data).contains(f'"id": "{session_id}"')
            )
        ).all()
    events = [json.loads(row.data) for row in rows]
    [completed] = [e for e in events if e["type"] == "checkout.session.completed"]
    return completed


class StripeTopUps:
    """Wallet top-ups paid by Stripe Checkout (one customer: the ledger adds up)."""

    provider = "stripe"
    emails = frozenset({"receipt"})
    seats = 0

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id

    async def open(self, client: httpx.AsyncClient, index: int) -> Purchase:
        amount = Money(1000 + 37 * index, "PLN")
        order = await asyncio.to_thread(purchases.place_top_up, user_id=self.user_id, amount=amount)
        started = await attempts.start_order_payment(order_id=pk(order))
        return Purchase(pk(order), started.payment_id, started.provider_reference, amount.amount)

    async def pay(self, client: httpx.AsyncClient, purchase: Purchase) -> list[Callback]:
        paid = await client.post(f"/sandbox/stripe/pay/{purchase.reference}", data=STRIPE_CARD)
        assert paid.status_code == 303, paid.text
        event = await asyncio.to_thread(_sandbox_event, purchase.reference)
        return [Callback("stripe", "/api/webhooks/stripe", json.dumps(event, indent=2))]


class UnivaPayMemberships:
    """Memberships paid by card through UnivaPay, with 3-D Secure."""

    provider = "univapay"
    emails = frozenset({"membership", "receipt"})
    seats = 0

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id

    async def open(self, client: httpx.AsyncClient, index: int) -> Purchase:
        form = memberships.MembershipForm(
            plan_code="supporter",
            currency="JPY",
            full_name="Rel Iability",
            email="unused@example.com",
            user_id=self.user_id,
        )
        order = await asyncio.to_thread(memberships.place_membership_order, form=form)
        payment = await asyncio.to_thread(card.open_card_payment, order_id=pk(order))
        token = await client.post(
            "/sandbox/univapay/tokens",
            json={
                "payment_type": "card",
                "type": "one_time",
                "email": "r@example.com",
                "data": {
                    "card_number": THREE_DS_CARD,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvv": "123",
                    "cardholder": "REL IABILITY",
                },
            },
            headers={"Authorization": f"Bearer {get_settings().univapay_app_token}"},
        )
        assert token.status_code == 201, token.text
        charged = await card.charge_card(public_id=payment.public_id or "", token=token.json()["id"])
        assert charged.outcome is card.Outcome.AUTHENTICATE, charged
        reference = (await asyncio.to_thread(_payment, pk(payment))).provider_reference
        assert reference is not None
        return Purchase(pk(order), pk(payment), reference, order.amount_minor, issuer_url=charged.next_url)

    async def pay(self, client: httpx.AsyncClient, purchase: Purchase) -> list[Callback]:
        awaiting = await asyncio.to_thread(univapay_store.load_charge, purchase.reference)
        done = await client.post(purchase.issuer_url, data={"result": "complete"})
        assert done.status_code == 303, done.text
        paid = await asyncio.to_thread(univapay_store.load_charge, purchase.reference)
        assert awaiting is not None and awaiting["status"] == "awaiting"
        assert paid is not None and paid["status"] == "successful"
        # UnivaPay tells of both changes: awaiting 3-D Secure, then finished.
        return [
            Callback(
                "univapay", "/api/payment/callback", json.dumps({"event": event, "data": public(charge)})
            )
            for event, charge in (("charge_updated", awaiting), ("charge_finished", paid))
        ]


class MpesaTickets:
    """KES ticket orders paid with M-PESA (one phone each: a phone holds one prompt)."""

    provider = "payhero"
    emails = frozenset({"tickets", "receipt"})
    seats = 2

    def __init__(self, user_id: int, ticket_type_id: int) -> None:
        self.user_id, self.ticket_type_id = user_id, ticket_type_id

    async def open(self, client: httpx.AsyncClient, index: int) -> Purchase:
        phone = f"2547{11_000_000 + index:08d}"
        form = CheckoutForm(
            full_name="Rel Iability",
            email="unused@example.com",
            phone=phone,
            ticket_type_id=self.ticket_type_id,
            quantity=self.seats,
            user_id=self.user_id,
        )
        order = await mpesa.direct_checkout(form=form)
        payment = await asyncio.to_thread(_latest_payment, pk(order))
        assert payment.provider_reference is not None
        return Purchase(pk(order), pk(payment), payment.provider_reference, order.amount_minor, phone=phone)

    async def pay(self, client: httpx.AsyncClient, purchase: Purchase) -> list[Callback]:
        pin = get_settings().sandbox_mpesa_pin
        answered = await client.post(
            f"/sandbox/payhero/phone/{purchase.phone}",
            data={"prompt": purchase.reference, "action": "pay", "pin": pin},
        )
        assert answered.status_code == 303, answered.text
        request = await asyncio.to_thread(payhero_store.load, purchase.reference)
        assert request is not None and request["status"] == "SUCCESS"
        token = get_settings().payhero_callback_token
        body = json.dumps(prompts.callback_body(request))
        return [Callback("payhero", f"/api/payhero/callback?token={token}", body)]


def _latest_payment(order_id: int) -> Payment:
    with read_session() as session:
        return session.exec(
            select(Payment).where(Payment.order_id == order_id).order_by(col(Payment.id).desc())
        ).one()


def rail_for(provider: str) -> Rail:
    """A rail with a customer (and an event) of its own."""
    user_id = new_customer(f"{provider}-{time.monotonic_ns()}@example.com")
    if provider == "stripe":
        return StripeTopUps(user_id)
    if provider == "univapay":
        return UnivaPayMemberships(user_id)
    return MpesaTickets(user_id, new_ticket_type(currency="KES", price_minor=150_000))


async def _limited(jobs: Sequence[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


def open_purchases(base_url: str, rail: Rail, count: int) -> list[Purchase]:
    """Open ``count`` payments, a few at a time, as customers arriving together would."""

    async def main() -> list[Purchase]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            jobs = [partial(rail.open, client, i) for i in range(count)]
            return await _limited(jobs, concurrency=8)

    return asyncio.run(main())


def pay_purchases(base_url: str, rail: Rail, bought: Sequence[Purchase]) -> None:
    """Pay each at the sandbox; each purchase keeps the callbacks its provider sends."""

    async def main() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

            async def pay(purchase: Purchase) -> None:
                purchase.callbacks = await rail.pay(client, purchase)

            await _limited([partial(pay, p) for p in bought], concurrency=8)

    asyncio.run(main())
