"""Stripe Checkout: the only module that imports ``stripe``.

Uses the official SDK's async methods over httpx, so the app never blocks its own
event loop (the sandbox is served by the same process). The base URL comes from
settings: the sandbox by default, real Stripe when real keys are configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from payflow_app.core.inputs import loads_json
from payflow_app.core.money import Money
from payflow_app.providers.base import (
    NextAction,
    PaymentError,
    PaymentRequest,
    PaymentTruth,
    ProviderEvent,
    ProviderRefundStatus,
    ProviderStatus,
    RefundResult,
    StartedPayment,
    WebhookRejected,
)
from payflow_app.settings import Settings

# Stripe's own refund reasons; any other reason payflow gives is kept in metadata only.
STRIPE_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REFUND_KEY = "payflow_idempotency_key"  # refund metadata: the key it was made under
REFUND_STATUSES = {
    "succeeded": ProviderRefundStatus.SUCCEEDED,
    "pending": ProviderRefundStatus.PENDING,
    "requires_action": ProviderRefundStatus.PENDING,
    "failed": ProviderRefundStatus.FAILED,
    "canceled": ProviderRefundStatus.FAILED,
}


class StripeCheckoutProvider:
    identifier = "stripe"

    def __init__(self, settings: Settings) -> None:
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self._client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=base,  # type: ignore[arg-type]
            http_client=stripe.HTTPXClient(timeout=20),
            max_network_retries=2,
        )
        self._webhook_secret = settings.stripe_webhook_secret
        self._tolerance = settings.stripe_webhook_tolerance_seconds
        self._lifetime_seconds = settings.checkout_session_lifetime_minutes * 60

    async def start_payment(self, request: PaymentRequest) -> StartedPayment:
        import time

        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.amount.currency.lower(),
                        "unit_amount": request.amount.amount,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.order_number,
            "customer_email": request.customer_email,
            "expires_at": int(time.time()) + self._lifetime_seconds,
            "metadata": {"order_number": request.order_number, **request.metadata},
        }
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _payment_error(exc) from exc
        return StartedPayment(
            provider_reference=session.id,
            next_action=NextAction.REDIRECT,
            redirect_url=session.url,
            expires_at=session.expires_at,
        )

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth:
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(provider_reference)
        except stripe.StripeError as exc:
            raise _payment_error(exc) from exc
        return session_truth(session)

    async def cancel_payment(self, provider_reference: str) -> PaymentTruth:
        truth = await self.fetch_payment(provider_reference)
        if truth.status is not ProviderStatus.PENDING:
            return truth
        try:
            session = await self._client.v1.checkout.sessions.expire_async(
                provider_reference, options={"idempotency_key": f"expire_{provider_reference}"}
            )
        except stripe.InvalidRequestError:
            # Completed or expired in the meantime: the provider's current word wins.
            return await self.fetch_payment(provider_reference)
        except stripe.StripeError as exc:
            raise _payment_error(exc) from exc
        return session_truth(session)

    async def refund_payment(
        self, provider_reference: str, *, amount: Money, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Refund the paid session's PaymentIntent. A refund already made under this
        key is found among the intent's refunds (its metadata carries the key), so a
        retry stays one refund even after Stripe forgets the Idempotency-Key (24 h)."""
        try:
            intent_id = await self._paid_intent(provider_reference, amount)
            earlier = await self._client.v1.refunds.list_async({"payment_intent": intent_id, "limit": 100})
            for refund in (r.to_dict() for r in earlier.data):
                if (refund.get("metadata") or {}).get(REFUND_KEY) == idempotency_key:
                    return refund_result(refund)
            params: dict[str, Any] = {
                "payment_intent": intent_id,
                "amount": amount.amount,
                "metadata": {REFUND_KEY: idempotency_key, "payflow_reason": reason[:500]},
            }
            if reason in STRIPE_REFUND_REASONS:
                params["reason"] = reason
            created = await self._client.v1.refunds.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _payment_error(exc) from exc
        return refund_result(created)

    async def _paid_intent(self, session_id: str, amount: Money) -> str:
        """The PaymentIntent of a paid session, in ``amount``'s currency; raises PaymentError."""
        session = (await self._client.v1.checkout.sessions.retrieve_async(session_id)).to_dict()
        intent = session.get("payment_intent")
        intent_id = intent.get("id") if isinstance(intent, dict) else intent
        if session.get("payment_status") != "paid" or not intent_id:
            raise PaymentError(
                "charge_not_refundable",
                "Nothing was paid in this Stripe Checkout, so nothing can be refunded.",
            )
        currency = str(session.get("currency") or "").upper()
        if amount.currency != currency:
            raise PaymentError("currency_mismatch", f"The payment was in {currency}, not {amount.currency}.")
        return str(intent_id)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """A verified event, or WebhookRejected: a bad signature, and also a signed
        body that is no Stripe event (nested too deep, no ``id`` or ``type``)."""
        signature = headers.get("stripe-signature")
        try:
            loads_json(body)  # the SDK's own json.loads would overflow the stack on deep nesting
            event = stripe.Webhook.construct_event(
                body, signature, self._webhook_secret, tolerance=self._tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(f"signature: {exc.user_message or exc}") from exc
        except ValueError as exc:
            raise WebhookRejected(f"payload: {exc}") from exc
        payload = event.to_dict()
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        obj = obj if isinstance(obj, dict) else {}
        reference = obj.get("id") if obj.get("object") == "checkout.session" else None
        event_id, event_type = payload.get("id"), payload.get("type")
        if not (isinstance(event_id, str) and event_id and isinstance(event_type, str) and event_type):
            raise WebhookRejected("payload: a Stripe event has an id and a type")
        if reference is not None and not isinstance(reference, str):
            raise WebhookRejected("payload: the Checkout Session's id is not a string")
        return ProviderEvent(
            event_id=event_id, event_type=event_type, provider_reference=reference, payload=payload
        )

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        return truth  # the Checkout Session already says everything


def session_truth(session: Any) -> PaymentTruth:
    """Translate a Checkout Session (SDK object or plain dict) into our truth."""
    if hasattr(session, "to_dict"):
        session = session.to_dict()
    if session["payment_status"] == "paid" or session["payment_status"] == "no_payment_required":
        status = ProviderStatus.SUCCEEDED
    elif session["status"] == "expired":
        status = ProviderStatus.EXPIRED
    else:
        status = ProviderStatus.PENDING
    total, currency = session.get("amount_total"), session.get("currency")
    amount = Money(int(total), currency) if total is not None and currency else None
    return PaymentTruth(
        provider_reference=session["id"],
        status=status,
        amount=amount,
        receipt_number=session.get("payment_intent"),
    )


def refund_result(refund: Any) -> RefundResult:
    """Translate a Stripe Refund (SDK object or plain dict) into our result."""
    if hasattr(refund, "to_dict"):
        refund = refund.to_dict()
    status = REFUND_STATUSES.get(refund.get("status") or "pending", ProviderRefundStatus.PENDING)
    failure = None
    if status is ProviderRefundStatus.FAILED:
        why = refund.get("failure_reason")
        failure = (
            f"Stripe could not refund the payment ({why})." if why else "Stripe could not refund the payment."
        )
    return RefundResult(refund_reference=refund["id"], status=status, failure_message=failure)


def _payment_error(exc: stripe.StripeError) -> PaymentError:
    # Stripe down or unreachable: the same code the other rails use, so callers retry.
    if isinstance(exc, stripe.APIConnectionError | stripe.APIError):
        return PaymentError("provider_unavailable", "Stripe could not be reached; please try again.")
    # Some SDK errors (e.g. AuthenticationError) keep Stripe's code only on exc.error.
    code = exc.code or (exc.error.code if exc.error else None) or type(exc).__name__
    return PaymentError(str(code), exc.user_message or str(exc))
