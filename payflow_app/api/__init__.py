"""Starlette routes mounted in front of Reflex (see ``payflow_app.payflow_app``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from payflow_app.api.pay import pay
from payflow_app.api.payment_status import check_status
from payflow_app.api.tickets import ticket_qr_png
from payflow_app.api.webhooks import stripe_webhook


def api_routes() -> list[BaseRoute]:
    return [
        Route("/api/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/payments/check-status", check_status, methods=["GET"]),
        Route("/pay", pay, methods=["POST"]),
        Route("/api/tickets/{number}/qr.png", ticket_qr_png, methods=["GET"]),
    ]
