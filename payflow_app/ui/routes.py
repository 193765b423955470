"""Route strings, in one place."""

EVENTS = "/"
EVENT = "/events/[slug]"
PAYMENT_SUCCESS = "/payments/success"
PAYMENT_CANCEL = "/payments/cancel"


def event_path(slug: str) -> str:
    return f"/events/{slug}"
