"""The one provider interface, shaped for every rail payflow speaks:

- hosted redirect (Stripe Checkout): ``start_payment`` answers a redirect URL;
- widget token + 3-D Secure (UnivaPay): ``PaymentRequest.token`` carries the widget's
  token, and a charge that needs 3DS answers a redirect to the issuer;
- push to a phone (PayHero M-PESA): ``PaymentRequest.phone`` is pushed to and the
  answer is ``AWAIT_CUSTOMER`` (nothing to redirect to);
- the internal wallet settles at once (``NONE``).

Providers exchange only these dataclasses with the services, never SDK objects or
ORM rows, and raise only the exceptions below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from payflow_app.core.money import Money


class NextAction(StrEnum):
    REDIRECT = "redirect"  # send the browser to ``StartedPayment.redirect_url``
    AWAIT_CUSTOMER = "await_customer"  # e.g. the customer confirms on their phone
    NONE = "none"  # settled already


class ProviderStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class PaymentRequest:
    idempotency_key: str  # one per payment attempt; safe to resend
    amount: Money
    description: str
    order_number: str
    customer_email: str
    success_url: str
    cancel_url: str
    phone: str | None = None  # push-to-phone rails
    token: str | None = None  # widget-token rails
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StartedPayment:
    provider_reference: str
    next_action: NextAction
    redirect_url: str | None = None
    expires_at: int | None = None  # epoch seconds
    # What the provider already knows (e.g. a card charge that succeeded at once,
    # next_action NONE); the services still fetch and verify the truth themselves.
    status: ProviderStatus = ProviderStatus.PENDING


# A status query's bare "failed" (PayHero's status API gives no reason): a callback
# that names the reason may still follow and refine it (``payments.close_payment``).
COARSE_FAILURE_CODES = frozenset({"mpesa_failed"})


@dataclass(frozen=True)
class PaymentTruth:
    """What the provider says about a payment right now."""

    provider_reference: str
    status: ProviderStatus
    amount: Money | None
    failure_code: str | None = None
    failure_message: str | None = None
    receipt_number: str | None = None
    # The rail cannot pay any other amount than the one requested (an M-PESA STK
    # push): a truth without an amount is then not an amount mismatch.
    amount_as_requested: bool = False


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook, reduced to what the pipeline needs. The payload only
    triggers work: the truth is fetched again from the provider."""

    event_id: str
    event_type: str
    # The provider's reference of the payment, or the external reference payflow
    # sent with it (the payment's idempotency key), when that is all the event carries.
    provider_reference: str | None
    payload: Mapping[str, Any]


class ProviderRefundStatus(StrEnum):
    PENDING = "pending"  # accepted; the provider settles it later
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider tried and could not; ``failure_message`` says why


@dataclass(frozen=True)
class RefundResult:
    """What the provider says about one refund: its own id for it and its status."""

    refund_reference: str
    status: ProviderRefundStatus
    failure_message: str | None = None


class PaymentError(Exception):
    """The provider refused or failed a call; ``code`` is stable, ``message`` readable.
    ``provider_reference`` names what the provider created before failing (a charge
    declined at once), so its later webhooks find the payment."""

    def __init__(self, code: str, message: str, *, provider_reference: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.provider_reference = provider_reference


class WebhookRejected(Exception):
    """The webhook could not be verified (signature, timestamp, shape). ``unauthorized``
    when the credential it must carry is missing or wrong (answered 401, not 400)."""

    def __init__(self, message: str, *, unauthorized: bool = False) -> None:
        super().__init__(message)
        self.unauthorized = unauthorized


class PaymentProvider(Protocol):
    identifier: str

    async def start_payment(self, request: PaymentRequest) -> StartedPayment: ...

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth: ...

    async def cancel_payment(self, provider_reference: str) -> PaymentTruth:
        """Stop a payment that has not completed; answers the resulting truth."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...

    async def refund_payment(
        self, provider_reference: str, *, amount: Money, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Refund ``amount`` (all or part) of the succeeded payment ``provider_reference``.

        Idempotent on ``idempotency_key``: the same key again answers the same refund,
        as it is now (so asking again is how a ``PENDING`` refund's outcome is learnt),
        and never makes a second one. ``reason`` is a short code (e.g. ``duplicate``,
        ``late_payment``), passed as the provider's own reason when it has that value
        and kept with the refund (metadata) either way. Raises :class:`PaymentError`
        when the provider refuses: ``refund_unsupported`` for a rail that cannot
        refund, else the provider's code (e.g. nothing paid, amount too large)."""
        ...

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        """Add to a fetched truth what only a stored webhook's payload tells (e.g.
        M-PESA's ResultCode and reason, absent from PayHero's status query). It never
        turns a truth into a success: only the provider's status query does that."""
        ...
