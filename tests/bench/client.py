"""The benchmarks' outside clients, over HTTP only: a signed-in customer buying M-PESA
tickets (``POST /api/orders/direct-checkout``), the customer's phone answering the STK
prompt (the sandbox's phone page), and PayHero itself — reading its own record of the
payment (the sandbox's PayHero API) and sending the callback payflow waits for.

The served app runs with the sandbox's own callbacks withheld, so the benchmark
decides when each callback arrives and can time from that moment."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
_PROMPT = re.compile(r'name="prompt" value="([^"]+)"')
_ACCOUNT = re.compile(r"Account: ([^<]+)</p>")
_AMOUNT = re.compile(r"Enter PIN to pay KES ([\d,]+)")
_phones = itertools.count(1)


@dataclass(frozen=True)
class World:
    """What the benchmark was given in the app's database (``world.py setup``)."""

    base: str
    event_id: int
    ticket_type_id: int
    customer_sessions: list[str]
    organizer_session: str
    payhero_username: str
    payhero_password: str
    payhero_callback_token: str

    @property
    def callback_url(self) -> str:
        return f"{self.base}/api/payhero/callback?token={self.payhero_callback_token}"


@dataclass
class MpesaOrder:
    """A ticket order waiting for M-PESA: ``reference`` is PayHero's (the payment's
    ``session_id`` for ``/payments/check-status``), ``account`` the external
    reference payflow gave PayHero."""

    order_id: str
    phone: str
    reference: str
    account: str
    amount: int
    callback: bytes = b""  # PayHero's success callback, once the customer has paid


def client(base: str, connections: int = 32) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, timeout=60, limits=limits)


async def limited(jobs: Sequence[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Run ``jobs`` at most ``concurrency`` at a time; answers their results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


async def open_order(http: httpx.AsyncClient, world: World, index: int, quantity: int) -> MpesaOrder:
    """Customer ``index`` (of the world's signed-in customers) checks out ``quantity``
    tickets with M-PESA on a phone of their own; the prompt is read off the phone."""
    phone = f"25471{next(_phones):07d}"
    session = world.customer_sessions[index % len(world.customer_sessions)]
    answer = await http.post(
        "/api/orders/direct-checkout",
        json={
            "fullName": "Bench Buyer",
            "phone": phone,
            "ticketTypeId": world.ticket_type_id,
            "quantity": quantity,
        },
        headers={"Origin": world.base, "Cookie": f"payflow_session={session}"},
    )
    assert answer.status_code == 201, answer.text
    page = (await http.get(f"/sandbox/payhero/phone/{phone}")).text
    prompt, account, amount = (pattern.search(page) for pattern in (_PROMPT, _ACCOUNT, _AMOUNT))
    assert prompt and account and amount, page
    return MpesaOrder(
        order_id=answer.json()["orderId"],
        phone=phone,
        reference=html.unescape(prompt.group(1)),
        account=html.unescape(account.group(1)).strip(),
        amount=int(amount.group(1).replace(",", "")),
    )


async def pay_on_phone(http: httpx.AsyncClient, world: World, order: MpesaOrder) -> None:
    """The customer enters the paying PIN; PayHero's callback for it is kept on the order."""
    answered = await http.post(
        f"/sandbox/payhero/phone/{order.phone}",
        data={"prompt": order.reference, "action": "pay", "pin": "1234"},
    )
    assert answered.status_code == 303, answered.text
    record = await http.get(
        "/sandbox/payhero/api/v2/transaction-status",
        params={"reference": order.reference},
        auth=(world.payhero_username, world.payhero_password),
    )
    assert record.status_code == 200 and record.json()["status"] == "SUCCESS", record.text
    order.callback = callback_body(
        order,
        checkout_request_id=record.json()["CheckoutRequestID"],
        receipt=record.json()["provider_reference"],
    )


def callback_body(order: MpesaOrder, *, checkout_request_id: str, receipt: str) -> bytes:
    """PayHero's v2 success callback (Daraja's result, flattened and wrapped); its
    event id is ``CheckoutRequestID:ResultCode``."""
    response: dict[str, Any] = {
        "Amount": order.amount,
        "CheckoutRequestID": checkout_request_id,
        "ExternalReference": order.account,
        "MerchantRequestID": f"mr-{checkout_request_id}",
        "MpesaReceiptNumber": receipt,
        "Phone": f"+{order.phone}",
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "Status": "Success",
    }
    return json.dumps({"forward_url": "", "response": response, "status": True}).encode()


async def send_callback(http: httpx.AsyncClient, world: World, body: bytes) -> httpx.Response:
    answer = await http.post(
        f"/api/payhero/callback?token={world.payhero_callback_token}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    return answer


async def paid_orders(world: World, count: int, quantity: int, concurrency: int = 8) -> list[MpesaOrder]:
    """``count`` orders checked out and paid on the phone, their callbacks not yet sent."""
    async with client(world.base) as http:

        async def one(index: int) -> MpesaOrder:
            order = await open_order(http, world, index, quantity)
            await pay_on_phone(http, world, order)
            return order

        return await limited([lambda i=i: one(i) for i in range(count)], concurrency)  # type: ignore[misc]
