"""The app's paths, in one place: the pages (Reflex routes) and the API paths that
services put into links and provider requests as well as the UI."""

EVENTS = "/"
EVENT = "/events/[slug]"
PAYMENT_SUCCESS = "/payments/success"
PAYMENT_CANCEL = "/payments/cancel"
LOGIN = "/login"
CHANGE_PASSWORD = "/account/password"
DASHBOARD = "/dashboard"
MY_TICKETS = "/wallet"
MEMBERSHIP = "/membership"
CARD_SUCCESS = "/payment/success"
CARD_RETURN = "/payment/return"
CARD_CANCEL = "/payment/cancel"
# UnivaPay's webhooks (and its 3-D Secure redirect back to payflow).
CARD_CALLBACK = "/api/payment/callback"
MPESA_PAYMENT = "/payment/[order_ref]"
ADMIN = "/admin"
ADMIN_ORDER = "/admin/orders/[order_id]"
ADMIN_METRICS = "/admin/metrics"
ORGANIZER = "/organizer"
ORGANIZER_EVENT = "/organizer/events/[event_id]"
ORGANIZER_EDIT = "/organizer/events/[event_id]/edit"
ORGANIZER_ATTENDEES = "/organizer/events/[event_id]/attendees"
ORGANIZER_CHECKIN = "/organizer/events/[event_id]/checkin"


def organizer_event_path(event_id: int | str, part: str = "") -> str:
    """``/organizer/events/7``, or one of its pages: ``edit``, ``attendees``, ``checkin``."""
    return f"/organizer/events/{event_id}" + (f"/{part}" if part else "")


def admin_order_path(order_id: int | str) -> str:
    return f"/admin/orders/{order_id}"


def mpesa_path(reference: str) -> str:
    """The M-PESA waiting page of an order, by its public reference (never the row id)."""
    return f"/payment/{reference}"


def event_path(slug: str) -> str:
    return f"/events/{slug}"


def success_path(reference: str) -> str:
    return f"{PAYMENT_SUCCESS}?session_id={reference}"


def ticket_png(number: str) -> str:
    return f"/api/tickets/{number}/qr.png"


def card_page(path: str, public_id: str) -> str:
    """A card payment's page (``CARD_SUCCESS``, ``CARD_RETURN``, ``CARD_CANCEL``,
    ``CARD_CALLBACK``) for one payment, by its public id."""
    return f"{path}?paymentId={public_id}"
