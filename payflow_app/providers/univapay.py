"""UnivaPay: cards through the checkout widget's transaction token, with 3-D Secure
when the issuer asks for it. Async httpx against UnivaPay's REST API (snake_case
JSON), server credentials ``Bearer {secret}.{app_token}``.

A charge is created ``pending`` and processed by UnivaPay asynchronously, so
``start_payment`` polls it (``?polling=true`` holds the request until it moves on):
it succeeds at once, awaits 3-D Secure at the issuer, or fails. Webhooks carry the
configured Authorization value verbatim; UnivaPay signs nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import httpx

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
from payflow_app.providers.http import json_answer
from payflow_app.settings import Settings

# ``?polling=true`` answers after at most ~10 s; a charge pending longer is left to
# the webhook and the pending-payment sync.
POLLS = 3
# What UnivaPay's charge error codes (univapay-node errors/parser.ts) mean to the customer.
CHARGE_REASONS = {
    301: "Your card number is not valid",
    302: "Your card's expiry month is not valid",
    303: "Your card's expiry year is not valid",
    304: "Your card has expired",
    305: "Your card's security code is not valid",
    306: "Your card was rejected",
    307: "Your card cannot be used",
    313: "The payment expired before it was completed",
    314: "Your card cannot be used; please contact your bank",
    315: "Your bank declined the payment; please contact your bank",
    319: "The payment was declined as suspected fraud",
    320: "Your bank's systems failed; please try again later",
    326: "The payment was declined as high-risk",
    345: "The payment was cancelled",
    356: "Your card is not enrolled in 3-D Secure",
    358: "3-D Secure authentication was not completed",
    359: "Your card was rejected",
}
FAILED_STATUSES = ("failed", "error", "canceled")
# UnivaPay's own refund reasons; any other reason payflow gives goes in ``message``.
UNIVAPAY_REFUND_REASONS = ("duplicate", "fraud", "customer_request", "chargeback")
REFUND_STATUSES = {
    "pending": ProviderRefundStatus.PENDING,
    "successful": ProviderRefundStatus.SUCCEEDED,
    "failed": ProviderRefundStatus.FAILED,
    "error": ProviderRefundStatus.FAILED,
}


class UnivaPayProvider:
    identifier = "univapay"

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``transport`` replaces the network (tests answer with recorded objects)."""
        self._store_id = settings.univapay_store_id
        self._webhook_auth = settings.univapay_webhook_auth
        self._client = httpx.AsyncClient(
            base_url=(settings.univapay_api_base or "").rstrip("/"),
            headers={"Authorization": f"Bearer {settings.univapay_secret}.{settings.univapay_app_token}"},
            # A polling GET may be held for ~10 s by UnivaPay.
            timeout=httpx.Timeout(10.0, read=20.0),
            transport=transport,
        )

    async def start_payment(self, request: PaymentRequest) -> StartedPayment:
        if not request.token:
            raise PaymentError("missing_token", "The card details did not arrive; please enter them again.")
        body = {
            "transaction_token_id": request.token,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
            "metadata": {**request.metadata, "order_number": request.order_number},
            "capture": True,
            "redirect": {"endpoint": request.success_url},
            "three_ds": {"mode": "normal", "redirect_endpoint": request.success_url},
        }
        charge = await self._call(
            "POST", "/charges", json=body, headers={"Idempotency-Key": request.idempotency_key}
        )
        for _ in range(POLLS):
            if charge["status"] != "pending":
                break
            charge = await self._call("GET", self._charge_path(charge["id"]), params={"polling": "true"})
        status = charge["status"]
        if status == "successful":
            return StartedPayment(charge["id"], NextAction.NONE, status=ProviderStatus.SUCCEEDED)
        if status == "awaiting":
            return StartedPayment(
                charge["id"], NextAction.REDIRECT, redirect_url=await self._issuer_url(charge)
            )
        if status in FAILED_STATUSES:
            raise PaymentError(*charge_failure(charge), provider_reference=charge["id"])
        # Still pending (or authorized): the webhook and the pending sync settle it.
        return StartedPayment(charge["id"], NextAction.NONE, status=ProviderStatus.PENDING)

    async def _issuer_url(self, charge: Mapping[str, Any]) -> str:
        issuer = await self._call("GET", f"{self._charge_path(charge['id'])}/three_ds/issuer_token")
        if issuer.get("call_method") != "http_get" or not issuer.get("issuer_token"):
            raise PaymentError(
                "univapay_3ds_unsupported",
                f"The card issuer asks for 3-D Secure by {issuer.get('call_method') or 'an unknown method'}, "
                "which payflow cannot do yet; please try another card.",
                provider_reference=charge["id"],
            )
        return str(issuer["issuer_token"])

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth:
        return charge_truth(await self._call("GET", self._charge_path(provider_reference)))

    async def cancel_payment(self, provider_reference: str) -> PaymentTruth:
        # An unfinished 3-D Secure charge cannot be cancelled here; it ends on its own.
        return await self.fetch_payment(provider_reference)

    async def refund_payment(
        self, provider_reference: str, *, amount: Money, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Ask for the refund, then wait once (``?polling=true``, ≤ ~10 s) for UnivaPay's
        asynchronous processing; a refund still pending after that answers PENDING."""
        body = {
            "amount": amount.amount,
            "currency": amount.currency,
            "reason": reason if reason in UNIVAPAY_REFUND_REASONS else "customer_request",
            "message": reason,
            "metadata": {"payflow_reason": reason, "payflow_idempotency_key": idempotency_key},
        }
        path = f"{self._charge_path(provider_reference)}/refunds"
        refund = await self._call("POST", path, json=body, headers={"Idempotency-Key": idempotency_key})
        if refund.get("status") == "pending":
            refund = await self._call("GET", f"{path}/{refund['id']}", params={"polling": "true"})
        return refund_result(refund)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        given = headers.get("authorization", "")
        if not given or not secrets.compare_digest(given.encode(), self._webhook_auth.encode()):
            raise WebhookRejected("authorization: missing or wrong Authorization header", unauthorized=True)
        try:
            payload = loads_json(body)
        except ValueError as exc:
            raise WebhookRejected(f"payload: not JSON ({exc})") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            raise WebhookRejected("payload: no event name")
        data = payload.get("data")
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data[k] for k in ("id", "status")
        ):
            raise WebhookRejected("payload: data needs an id and a status")
        event = payload["event"]
        return ProviderEvent(
            event_id=f"{event}:{data['id']}:{data['status']}",
            event_type=event,
            provider_reference=data["id"] if event.startswith("charge_") else None,
            payload=payload,
        )

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        return truth  # the charge itself already says everything

    def _charge_path(self, charge_id: str) -> str:
        return f"/stores/{self._store_id}/charges/{charge_id}"

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return await json_answer(
            self._client.request(method, path, **kwargs),
            unavailable="The card processor could not be reached; please try again.",
            refused=api_error,
            unreadable=_unreadable,
        )


def _unreadable(status: int) -> PaymentError:
    return PaymentError("unexpected_answer", "The card processor gave an answer payflow cannot read.")


def api_error(status: int, body: Any) -> PaymentError:
    """UnivaPay's ``{"status": "error", "code", "errors": [{"field", "reason"}]}``."""
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code") or f"HTTP_{status}")
    reasons = [
        f"{e.get('field')}: {e.get('reason')}" for e in body.get("errors") or [] if isinstance(e, dict)
    ]
    if status == 401:
        return PaymentError(code, "The card processor refused payflow's credentials.")
    detail = f" ({'; '.join(reasons)})" if reasons else ""
    return PaymentError(code, f"The card processor refused the request: {code}{detail}.")


def charge_failure(charge: Mapping[str, Any]) -> tuple[str, str]:
    """The (code, readable message) of a failed, errored or canceled charge."""
    error = charge.get("error")
    number, said = (error.get("code"), error.get("message")) if isinstance(error, dict) else (None, None)
    code = f"univapay_{number}" if number is not None else f"univapay_{charge['status']}"
    reason = CHARGE_REASONS.get(number) if isinstance(number, int) else None
    if reason is not None:  # our words for a code we know; UnivaPay's would repeat them
        return code, f"{reason}."
    reason = "The payment was cancelled" if charge["status"] == "canceled" else "The card payment failed"
    return code, f"{reason} ({said})." if said else f"{reason}."


def refund_result(refund: Mapping[str, Any]) -> RefundResult:
    """Translate a UnivaPay refund object into our result."""
    status = REFUND_STATUSES.get(str(refund.get("status")), ProviderRefundStatus.PENDING)
    failure = None
    if status is ProviderRefundStatus.FAILED:
        error = refund.get("error")
        said = error.get("message") if isinstance(error, dict) else None
        failure = f"The card refund failed ({said})." if said else "The card refund failed."
    return RefundResult(refund_reference=str(refund["id"]), status=status, failure_message=failure)


def charge_truth(charge: Mapping[str, Any]) -> PaymentTruth:
    """Translate a UnivaPay charge object into our truth."""
    status = charge["status"]
    amount = charge.get("charged_amount")
    currency = charge.get("charged_currency") if amount is not None else None
    if amount is None:
        amount, currency = charge.get("requested_amount"), charge.get("requested_currency")
    money = Money(int(amount), str(currency).upper()) if amount is not None and currency else None
    if status == "successful":
        return PaymentTruth(charge["id"], ProviderStatus.SUCCEEDED, money, receipt_number=charge["id"])
    if status in ("failed", "error"):
        code, message = charge_failure(charge)
        return PaymentTruth(
            charge["id"], ProviderStatus.FAILED, money, failure_code=code, failure_message=message
        )
    if status == "canceled":
        return PaymentTruth(charge["id"], ProviderStatus.CANCELLED, money)
    return PaymentTruth(charge["id"], ProviderStatus.PENDING, money)
