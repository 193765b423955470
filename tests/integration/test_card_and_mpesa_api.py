"""The app's own endpoints of the card and M-PESA rails, over real HTTP against the
sandboxes: the widget → charge → success/3DS/cancel journey of a membership, the
verify API, direct checkout with its refusals, and the order status API."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.models import Membership, Order, Payment, SandboxObject, TicketType
from payflow_app.services.accounts import memberships
from payflow_app.services.payments import card as card_payments
from tests.integration.conftest import wait_until

CARD = {"expiry": "12 / 34", "cvv": "123", "cardholder": "HANAKO YAMADA"}


def membership_payment() -> str:
    form = memberships.MembershipForm(
        plan_code="supporter", currency="JPY", full_name="Hanako Yamada", email="hanako@example.jp"
    )
    order = memberships.place_membership_order(form=form)
    payment = card_payments.open_card_payment(order_id=order.id)  # type: ignore[arg-type]
    assert payment.public_id is not None
    return payment.public_id


def widget_token(http: httpx.Client, public_id: str, card: str) -> str:
    """Open the widget the way the browser does and let it tokenise the card."""
    opened = http.get(f"/payment/card?paymentId={public_id}")
    assert opened.status_code == 303 and opened.headers["location"].startswith("/sandbox/univapay/widget?")
    widget = opened.headers["location"]
    assert "email=hanako%40example.jp" in widget and "amount=3000" in widget and "currency=JPY" in widget
    page = http.post(widget, data=CARD | {"card_number": card, "email": "hanako@example.jp"})
    assert page.status_code == 200, page.text
    token = re.search(r'name="univapayTokenId" value="([^"]+)"', page.text)
    assert token and f'name="paymentId" value="{public_id}"' in page.text
    return token.group(1)


def charges() -> list[SandboxObject]:
    with read_session() as session:
        return list(session.exec(select(SandboxObject).where(SandboxObject.kind == "charge")).all())


def verify(http: httpx.Client, public_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/payment/verify?paymentId={public_id}")
    assert answer.status_code == 200
    return dict(answer.json())


def test_a_card_paid_at_once_creates_the_membership_and_a_second_post_charges_nothing(
    http: httpx.Client,
) -> None:
    public_id = membership_payment()
    token = widget_token(http, public_id, "4242 4242 4242 4242")
    charged = http.post(
        "/api/payment/checkout/charge", data={"univapayTokenId": token, "paymentId": public_id}
    )
    assert charged.status_code == 303
    assert charged.headers["location"] == f"/payment/success?paymentId={public_id}"
    answer = verify(http, public_id)
    assert answer["status"] == "succeeded" and answer["membershipExists"] is True
    assert re.fullmatch(r"hanako\.yamada\.\d{4}", answer["username"])
    # The back button or a double click posts again: nothing is charged twice.
    again = http.post("/api/payment/checkout/charge", data={"univapayTokenId": token, "paymentId": public_id})
    assert again.headers["location"] == f"/payment/success?paymentId={public_id}"
    assert len(charges()) == 1
    with read_session() as session:
        assert len(session.exec(select(Membership)).all()) == 1


def test_concurrent_posts_of_one_token_make_one_charge_and_one_membership(
    http: httpx.Client, server: str
) -> None:
    public_id = membership_payment()
    token = widget_token(http, public_id, "4242 4242 4242 4242")

    def post(_: int) -> str:
        with httpx.Client(base_url=server, timeout=20) as client:
            answer = client.post(
                "/api/payment/checkout/charge", json={"paymentId": public_id, "univapayTokenId": token}
            )
            return str(answer.json()["status"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(post, range(4)))
    assert set(outcomes) <= {"succeeded", "processing"} and "succeeded" in outcomes
    wait_until(lambda: verify(http, public_id)["membershipExists"], what="the membership")
    assert len(charges()) == 1
    with read_session() as session:
        assert len(session.exec(select(Membership)).all()) == 1


def test_3ds_goes_to_the_issuer_back_through_the_callback_and_the_webhook_settles_it(
    http: httpx.Client,
) -> None:
    public_id = membership_payment()
    token = widget_token(http, public_id, "4000 0000 0000 3220")
    charged = http.post(
        "/api/payment/checkout/charge", json={"paymentId": public_id, "transactionTokenId": token}
    )
    assert charged.status_code == 200
    assert charged.json()["status"] == "authenticate"
    issuer = urlsplit(charged.json()["redirectUrl"]).path
    assert issuer.startswith("/sandbox/univapay/3ds/")
    assert verify(http, public_id)["status"] == "pending"  # waiting for the customer at the issuer
    back = http.post(issuer, data={"result": "complete"})
    assert back.status_code == 303
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/api/payment/callback"
    returned = http.get(f"{callback.path}?{callback.query}")
    assert returned.status_code == 303
    landing = urlsplit(returned.headers["location"])
    params = parse_qs(landing.query)
    assert landing.path == "/payment/return"
    assert params["paymentId"] == [public_id] and params["univapayChargeId"][0] and params["status"]
    # The webhook (not this test) completes the payment and creates the membership.
    wait_until(
        lambda: verify(http, public_id)["membershipExists"], what="the webhook to create the membership"
    )


def test_failed_3ds_and_a_rejected_card_close_the_payment_with_the_reason(http: httpx.Client) -> None:
    rejected = membership_payment()
    token = widget_token(http, rejected, "4111 1111 1111 1111")
    answer = http.post("/api/payment/checkout/charge", json={"paymentId": rejected, "univapayTokenId": token})
    assert answer.json()["status"] == "failed"
    assert answer.json()["redirectUrl"] == f"/payment/cancel?paymentId={rejected}"
    result = verify(http, rejected)
    assert result["status"] == "failed" and "rejected" in result["failureReason"]
    assert result["membershipExists"] is False

    three_ds = membership_payment()
    token = widget_token(http, three_ds, "4000 0000 0000 3220")
    issuer = http.post("/api/payment/checkout/charge", json={"paymentId": three_ds, "univapayTokenId": token})
    http.post(urlsplit(issuer.json()["redirectUrl"]).path, data={"result": "fail"})
    wait_until(
        lambda: verify(http, three_ds)["status"] == "failed", what="the failed 3DS to close the payment"
    )
    assert "3-D Secure" in verify(http, three_ds)["failureReason"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"paymentId": "pay_nope", "univapayTokenId": "tok"}, 404, "not_found"),
        ({"paymentId": "", "univapayTokenId": "tok"}, 400, "invalid_input"),
        ({"paymentId": "pay_x"}, 400, "invalid_input"),
    ],
)
def test_bad_charge_requests_get_a_4xx_and_charge_nothing(
    http: httpx.Client, body: dict[str, str], status: int, code: str
) -> None:
    answer = http.post("/api/payment/checkout/charge", json=body)
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert charges() == []


# --- M-PESA --------------------------------------------------------------------------------


def regular_ticket_type() -> int:
    with read_session() as session:
        found = session.exec(select(TicketType).where(TicketType.name == "Regular")).one()
        assert found.id is not None
        return found.id


def direct_checkout(http: httpx.Client, **changes: Any) -> httpx.Response:
    body = {
        "fullName": "Wanjiru Kamau",
        "email": "wanjiru@example.co.ke",
        "phone": "0712 345 678",
        "ticketTypeId": regular_ticket_type(),
        "quantity": 1,
    } | changes
    return http.post("/api/orders/direct-checkout", json=body)


def order_status(http: httpx.Client, order_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/orders/{order_id}/status")
    assert answer.status_code == 200
    return dict(answer.json())


def test_direct_checkout_pushes_one_prompt_and_the_pin_pays_the_order(http: httpx.Client) -> None:
    placed = direct_checkout(http)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["orderId"]
    assert placed.json()["success"] is True and placed.json()["orderNumber"].startswith("ORD-")
    status = order_status(http, order_id)
    assert status["status"] == "awaiting_payment" and status["payment"]["waitingForCustomer"] is True
    # While that prompt waits, neither the order nor the phone gets a second one.
    again = http.post(f"/api/orders/{order_id}/stk-push", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "mpesa_prompt_pending"
    other = direct_checkout(http, email="someone@example.co.ke", phone="+254712345678")
    assert other.status_code == 409 and other.json()["error"]["code"] == "mpesa_prompt_pending"
    with read_session() as session:
        assert len(session.exec(select(Order)).all()) == 1
        payment = session.exec(select(Payment)).one()
    paid = http.post(
        "/sandbox/payhero/phone/254712345678",
        data={"prompt": payment.provider_reference, "action": "pay", "pin": "1234"},
    )
    assert paid.status_code == 303
    wait_until(lambda: order_status(http, order_id)["isFulfilled"], what="the callback to fulfil the order")
    done = order_status(http, order_id)
    assert done["payment"]["status"] == "succeeded"
    assert re.fullmatch(r"S[A-Z0-9]{9}", done["payment"]["receiptNumber"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "+1 202 555 0100"}, "phone"),
        ({"email": "wanjiru"}, "email"),
        ({"fullName": ""}, "full_name"),
        ({"quantity": 0}, "quantity"),
    ],
)
def test_bad_direct_checkout_input_is_a_400_that_creates_nothing(
    http: httpx.Client, changes: dict[str, Any], field: str
) -> None:
    answer = direct_checkout(http, **changes)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_input" and field in answer.json()["error"]["fields"]
    with read_session() as session:
        assert session.exec(select(Order)).all() == []


def test_the_status_api_answers_404_for_an_unknown_order(http: httpx.Client) -> None:
    assert http.get("/api/orders/999999/status").status_code == 404
