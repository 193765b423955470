"""Starlette routes mounted in front of Reflex (see ``payflow_app.payflow_app``)."""

from __future__ import annotations

from starlette.convertors import register_url_convertor
from starlette.routing import BaseRoute, Route

from payflow_app.api import admin, card, checkin, event_images, orders, organizer, session
from payflow_app.api.errors import ANY_METHOD, AnyPathConvertor, IdConvertor, unknown_route
from payflow_app.api.pay import pay
from payflow_app.api.payment_status import check_status
from payflow_app.api.tickets import ticket_qr_png
from payflow_app.api.webhooks import payhero_callback, stripe_webhook, univapay_webhook

# ``{name:id}``: a row id, 1..2^31-1 (a larger number would overflow the database).
register_url_convertor("id", IdConvertor())
register_url_convertor("anypath", AnyPathConvertor())


def api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/api/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/api/payment/callback", univapay_webhook, methods=["POST"]),
        Route("/api/payhero/callback", payhero_callback, methods=["POST"]),
        Route("/payments/check-status", check_status, methods=["GET"]),
        Route("/pay", pay, methods=["POST"]),
        Route("/payment/card", card.open_widget, methods=["GET"]),
        Route("/api/payment/checkout/charge", card.charge, methods=["POST"]),
        Route("/api/payment/callback", card.three_ds_return, methods=["GET"]),
        Route("/api/payment/verify", card.verify, methods=["GET"]),
        Route("/api/orders/direct-checkout", orders.direct_checkout, methods=["POST"]),
        Route("/api/orders/{reference}/stk-push", orders.push_again, methods=["POST"]),
        Route("/api/orders/{reference}/status", orders.order_status, methods=["GET"]),
        Route("/api/tickets/{number}/qr.png", ticket_qr_png, methods=["GET"]),
        Route("/api/admin/sync-orders", admin.sync_orders, methods=["POST"]),
        Route("/api/admin/payments/{payment_id:id}/sync", admin.sync_payment, methods=["POST"]),
        Route("/api/admin/payments/{payment_id:id}/review", admin.mark_for_review, methods=["POST"]),
        Route("/api/admin/events/{event_id:id}/replay", admin.replay_event, methods=["POST"]),
        Route("/api/admin/events/{event_id:id}", admin.webhook_event, methods=["GET"]),
        Route("/metrics", admin.prometheus_metrics, methods=["GET"]),
        Route("/.well-known/jwks.json", checkin.public_keys, methods=["GET"]),
        Route("/api/checkin", checkin.scan, methods=["POST"]),
        Route("/api/checkin/offline", checkin.upload_offline, methods=["POST"]),
        Route("/api/checkin/revocations", checkin.revocations, methods=["GET"]),
        Route("/api/organizer/events/{event_id:id}/attendees.csv", organizer.attendees_csv, methods=["GET"]),
        Route("/api/organizer/events/{event_id:id}/devices", organizer.issue_device, methods=["POST"]),
        Route("/api/event-images/{name}", event_images.event_image, methods=["GET"]),
        Route("/session/grant", session.redeem_grant, methods=["GET"]),
        Route("/session/logout", session.log_out, methods=["POST"]),
    ]
    # Last: any other /api/ path or method (an id out of range, a typo) answers JSON.
    return [*routes, Route("/api/{rest:anypath}", unknown_route(routes), methods=ANY_METHOD)]
