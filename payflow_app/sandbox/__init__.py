"""Offline imitations of the payment providers and the built-in mailbox, mounted
under ``/sandbox/``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from payflow_app.emails import mailbox
from payflow_app.sandbox import (
    faults_pages,
    payhero,
    stripe_api,
    stripe_pages,
    stripe_payments,
    stripe_refunds,
    univapay,
)


def sandbox_routes() -> list[BaseRoute]:
    base = "/sandbox/stripe"
    return [
        Route(f"{base}/v1/checkout/sessions", stripe_api.create_session, methods=["POST"]),
        Route(f"{base}/v1/checkout/sessions/{{session_id}}", stripe_api.retrieve_session, methods=["GET"]),
        Route(
            f"{base}/v1/checkout/sessions/{{session_id}}/expire", stripe_api.expire_session, methods=["POST"]
        ),
        Route(
            f"{base}/v1/payment_intents/{{intent_id}}",
            stripe_payments.retrieve_payment_intent,
            methods=["GET"],
        ),
        Route(f"{base}/v1/refunds", stripe_refunds.create, methods=["POST"]),
        Route(f"{base}/v1/refunds", stripe_refunds.list_, methods=["GET"]),
        Route(f"{base}/v1/refunds/{{refund_id}}", stripe_refunds.retrieve, methods=["GET"]),
        Route(f"{base}/pay/{{session_id}}", stripe_pages.pay_page, methods=["GET"]),
        Route(f"{base}/pay/{{session_id}}", stripe_pages.submit_payment, methods=["POST"]),
        *univapay.routes(),
        *payhero.routes(),
        Route("/sandbox/faults", faults_pages.faults_page, methods=["GET"]),
        Route("/sandbox/faults", faults_pages.save_from_form, methods=["POST"]),
        Route("/sandbox/faults/{provider}", faults_pages.get_faults, methods=["GET"]),
        Route("/sandbox/faults/{provider}", faults_pages.put_faults, methods=["PUT"]),
        Route("/sandbox/mailbox", mailbox.mailbox_page, methods=["GET"]),
        Route("/sandbox/mailbox.json", mailbox.mailbox_json, methods=["GET"]),
    ]
