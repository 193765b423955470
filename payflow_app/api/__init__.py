"""Starlette routes mounted in front of Reflex (see ``payflow_app.payflow_app``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from payflow_app.api.payment_status import check_status
from payflow_app.api.webhooks import stripe_webhook


def api_routes() -> list[BaseRoute]:
    return [
        Route("/api/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/payments/check-status", check_status, methods=["GET"]),
    ]
