"""An offline UnivaPay, mounted under ``/sandbox/univapay``: the REST API subset the
provider module uses, the checkout widget and the issuer's 3-D Secure page. Its
objects are kept in the app database; webhooks go to the app's
``/api/payment/callback`` with the configured Authorization value."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from payflow_app.sandbox.univapay import api, pages, refunds

BASE = "/sandbox/univapay"


def routes() -> list[BaseRoute]:
    charge = f"{BASE}/stores/{{store_id}}/charges/{{charge_id}}"
    return [
        Route(f"{BASE}/tokens", api.create_token, methods=["POST"]),
        Route(f"{BASE}/charges", api.create_charge, methods=["POST"]),
        Route(charge, api.get_charge, methods=["GET"]),
        Route(f"{charge}/three_ds/issuer_token", api.get_issuer_token, methods=["GET"]),
        Route(f"{charge}/refunds", refunds.create_refund, methods=["POST"]),
        Route(f"{charge}/refunds/{{refund_id}}", refunds.get_refund, methods=["GET"]),
        Route(f"{BASE}/widget", pages.widget_page, methods=["GET"]),
        Route(f"{BASE}/widget", pages.submit_widget, methods=["POST"]),
        Route(f"{BASE}/3ds/{{charge_id}}", pages.three_ds_page, methods=["GET"]),
        Route(f"{BASE}/3ds/{{charge_id}}", pages.submit_three_ds, methods=["POST"]),
    ]
