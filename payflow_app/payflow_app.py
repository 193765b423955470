"""Builds the rx.App: pages, API routes and lifespan workers — nothing else."""

from __future__ import annotations

import reflex as rx
from starlette.applications import Starlette

from payflow_app.api import api_routes
from payflow_app.api.security import protect_backend
from payflow_app.core import urls
from payflow_app.emails.sender import run_email_sender
from payflow_app.live.bus import bus
from payflow_app.sandbox import sandbox_routes
from payflow_app.sandbox.stripe_api import run_expiry_sweeper
from payflow_app.services.payments.inbox_worker import run_inbox_worker
from payflow_app.services.payments.reconciler import run_reconciler
from payflow_app.settings import get_settings
from payflow_app.ui.pages.admin_console import OperatorState, admin_console_page
from payflow_app.ui.pages.admin_metrics import MetricsState, admin_metrics_page
from payflow_app.ui.pages.admin_order import OrderTimelineState, admin_order_page
from payflow_app.ui.pages.card_cancel import CardCancelState, card_cancel_page
from payflow_app.ui.pages.card_return import CardReturnState, card_return_page
from payflow_app.ui.pages.card_success import CardSuccessState, card_success_page
from payflow_app.ui.pages.change_password import PasswordState, change_password_page
from payflow_app.ui.pages.dashboard import DashboardState, dashboard_page
from payflow_app.ui.pages.event_page import CheckoutState, event_page
from payflow_app.ui.pages.events import EventsState, events_page
from payflow_app.ui.pages.login import LoginState, login_page
from payflow_app.ui.pages.membership import MembershipState, membership_page
from payflow_app.ui.pages.mpesa_payment import MpesaState, mpesa_payment_page
from payflow_app.ui.pages.my_tickets import MyTicketsState, my_tickets_page
from payflow_app.ui.pages.organizer_attendees import AttendeesState, organizer_attendees_page
from payflow_app.ui.pages.organizer_checkin import GateState, organizer_checkin_page
from payflow_app.ui.pages.organizer_edit import EventEditState, organizer_edit_page
from payflow_app.ui.pages.organizer_event import EventDashboardState, organizer_event_page
from payflow_app.ui.pages.organizer_events import OrganizerEventsState, organizer_events_page
from payflow_app.ui.pages.payment_cancel import CancelState, payment_cancel_page
from payflow_app.ui.pages.payment_success import PaymentStatusState, payment_success_page
from payflow_app.ui.session import SessionState

settings = get_settings()
http_routes = api_routes() + (sandbox_routes() if settings.sandbox_enabled else [])

app = rx.App(
    # The routes first; then the whole backend (routes, websocket, built pages) behind
    # the cross-site checks and security headers.
    api_transformer=[Starlette(routes=http_routes), protect_backend],
    stylesheets=["/styles.css"],
)
PAGES = (
    (events_page, urls.EVENTS, "events", [EventsState.load]),
    (event_page, urls.EVENT, "tickets", [CheckoutState.load]),
    (payment_success_page, urls.PAYMENT_SUCCESS, "payment", [PaymentStatusState.watch]),
    (payment_cancel_page, urls.PAYMENT_CANCEL, "payment cancelled", [CancelState.load]),
    (login_page, urls.LOGIN, "log in", [LoginState.load]),
    (change_password_page, urls.CHANGE_PASSWORD, "password", [PasswordState.load]),
    (dashboard_page, urls.DASHBOARD, "dashboard", [DashboardState.load, DashboardState.watch]),
    (my_tickets_page, urls.MY_TICKETS, "my tickets", [MyTicketsState.load]),
    (membership_page, urls.MEMBERSHIP, "membership", [MembershipState.load]),
    (card_return_page, urls.CARD_RETURN, "confirming your payment", [CardReturnState.watch]),
    (card_success_page, urls.CARD_SUCCESS, "membership", [CardSuccessState.watch]),
    (card_cancel_page, urls.CARD_CANCEL, "payment not completed", [CardCancelState.load]),
    (mpesa_payment_page, urls.MPESA_PAYMENT, "M-PESA payment", [MpesaState.watch]),
    (admin_console_page, urls.ADMIN, "operations", [OperatorState.load]),
    (admin_order_page, urls.ADMIN_ORDER, "order timeline", [OrderTimelineState.load]),
    (admin_metrics_page, urls.ADMIN_METRICS, "metrics", [MetricsState.load]),
    (organizer_events_page, urls.ORGANIZER, "my events", [OrganizerEventsState.load]),
    (
        organizer_event_page,
        urls.ORGANIZER_EVENT,
        "event dashboard",
        [EventDashboardState.load, EventDashboardState.watch],
    ),
    (organizer_edit_page, urls.ORGANIZER_EDIT, "edit event", [EventEditState.load]),
    (organizer_attendees_page, urls.ORGANIZER_ATTENDEES, "attendees", [AttendeesState.load]),
    (organizer_checkin_page, urls.ORGANIZER_CHECKIN, "check-in", [GateState.load]),
)
for component, route, title, on_load in PAGES:
    # Every page first learns its language and who is signed in.
    app.add_page(component, route=route, title=f"payflow — {title}", on_load=[SessionState.resolve, *on_load])

app.register_lifespan_task(bus.run)
app.register_lifespan_task(run_inbox_worker)
app.register_lifespan_task(run_email_sender)
app.register_lifespan_task(run_reconciler)
if settings.sandbox_enabled:
    app.register_lifespan_task(run_expiry_sweeper)
