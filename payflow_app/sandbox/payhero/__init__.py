"""PayHero's M-PESA STK push, offline: the v2 API under ``/sandbox/payhero/api/v2``
and a phone simulator at ``/sandbox/payhero/phone/{phone}`` where the customer
enters the PIN (the test PIN pays; see the page for the other outcomes)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from payflow_app.sandbox.payhero import api, phone

BASE = "/sandbox/payhero"


def routes() -> list[BaseRoute]:
    return [
        Route(f"{BASE}/api/v2/payments", api.create_payment, methods=["POST"]),
        Route(f"{BASE}/api/v2/transaction-status", api.transaction_status, methods=["GET"]),
        Route(f"{BASE}/phone/{{phone}}", phone.phone_page, methods=["GET"]),
        Route(f"{BASE}/phone/{{phone}}", phone.answer_prompt, methods=["POST"]),
        Route(f"{BASE}/controls", api.controls, methods=["GET", "POST"]),
    ]


def phone_url(public_url: str, phone_number: str) -> str:
    """Where a customer's phone is simulated (the app links there while it waits)."""
    return f"{public_url}{BASE}/phone/{phone_number}"
