"""Offline imitations of the payment providers and the built-in mailbox, mounted
under ``/sandbox/``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from payflow_app.emails import mailbox
from payflow_app.sandbox import payhero, stripe_api, stripe_pages, univapay


def sandbox_routes() -> list[BaseRoute]:
    base = "/sandbox/stripe"
    return [
        Route(f"{base}/v1/checkout/sessions", stripe_api.create_session, methods=["POST"]),
        Route(f"{base}/v1/checkout/sessions/{{session_id}}", stripe_api.retrieve_session, methods=["GET"]),
        Route(
            f"{base}/v1/checkout/sessions/{{session_id}}/expire", stripe_api.expire_session, methods=["POST"]
        ),
        Route(f"{base}/pay/{{session_id}}", stripe_pages.pay_page, methods=["GET"]),
        Route(f"{base}/pay/{{session_id}}", stripe_pages.submit_payment, methods=["POST"]),
        *univapay.routes(),
        *payhero.routes(),
        Route("/sandbox/mailbox", mailbox.mailbox_page, methods=["GET"]),
        Route("/sandbox/mailbox.json", mailbox.mailbox_json, methods=["GET"]),
    ]
