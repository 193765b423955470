"""Builds the rx.App: pages, API routes and lifespan workers — nothing else."""

from __future__ import annotations

import reflex as rx
from starlette.applications import Starlette

from payflow_app.api import api_routes
from payflow_app.live.bus import bus
from payflow_app.sandbox import sandbox_routes
from payflow_app.sandbox.stripe_api import run_expiry_sweeper
from payflow_app.services.inbox import run_inbox_worker
from payflow_app.settings import get_settings
from payflow_app.ui import routes
from payflow_app.ui.pages.event_page import CheckoutState, event_page
from payflow_app.ui.pages.events import EventsState, events_page
from payflow_app.ui.pages.payment_cancel import CancelState, payment_cancel_page
from payflow_app.ui.pages.payment_success import PaymentStatusState, payment_success_page

settings = get_settings()
http_routes = api_routes() + (sandbox_routes() if settings.sandbox_enabled else [])

app = rx.App(
    api_transformer=Starlette(routes=http_routes),
    stylesheets=["/styles.css"],
)
app.add_page(events_page, route=routes.EVENTS, title="payflow — events", on_load=EventsState.load)
app.add_page(event_page, route=routes.EVENT, title="payflow — tickets", on_load=CheckoutState.load)
app.add_page(
    payment_success_page,
    route=routes.PAYMENT_SUCCESS,
    title="payflow — payment",
    on_load=PaymentStatusState.watch,
)
app.add_page(
    payment_cancel_page,
    route=routes.PAYMENT_CANCEL,
    title="payflow — payment cancelled",
    on_load=CancelState.load,
)

app.register_lifespan_task(bus.run)
app.register_lifespan_task(run_inbox_worker)
if settings.sandbox_enabled:
    app.register_lifespan_task(run_expiry_sweeper)
