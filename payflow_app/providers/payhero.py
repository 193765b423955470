"""PayHero (Kenya): M-PESA STK push over PayHero's v2 API, async httpx, Basic auth.

The customer confirms on their phone, so a started payment only awaits them. The
status query says whether it succeeded; only the callback carries M-PESA's
ResultCode, which :meth:`PayHeroProvider.refine_truth` turns into a reason. PayHero
signs nothing: the callback URL carries a secret token, checked by the endpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

import httpx

from payflow_app.core.inputs import bounded_int, loads_json, whole_number
from payflow_app.core.money import Money, exponent
from payflow_app.core.phones import normalise_kenyan_phone
from payflow_app.providers.base import (
    NextAction,
    PaymentError,
    PaymentRequest,
    PaymentTruth,
    ProviderEvent,
    ProviderStatus,
    RefundResult,
    StartedPayment,
    WebhookRejected,
)
from payflow_app.providers.http import json_answer
from payflow_app.settings import Settings

CANCELLED_BY_CUSTOMER = 1032
STATUS_QUERY_FAILED = "mpesa_failed"  # one of base.COARSE_FAILURE_CODES
# What each M-PESA ResultCode means to the customer (Daraja's codes, passed through).
MPESA_REASONS = {
    1: "Your M-PESA balance is too low for this payment.",
    17: "M-PESA could not reach the merchant.",
    1001: "Another M-PESA payment is already in progress on this phone.",
    1019: "The M-PESA request expired.",
    1025: "M-PESA could not send the prompt to your phone.",
    1032: "You cancelled the M-PESA prompt.",
    1037: "Your phone did not answer the M-PESA prompt in time.",
    2001: "The M-PESA PIN was wrong.",
    9999: "M-PESA could not send the prompt to your phone.",
}
NOT_COMPLETED = "M-PESA did not complete the payment."
REFUND_UNSUPPORTED = (
    "M-PESA payments through PayHero cannot be refunded automatically; reverse it from the M-PESA portal."
)


def mpesa_reason(code: int, description: str | None = None) -> str:
    """A readable reason for an M-PESA ResultCode; Daraja's own ``description`` (the
    callback's ResultDesc) for a code we do not know."""
    return MPESA_REASONS.get(code) or description or NOT_COMPLETED


# How long an idle kept connection to PayHero is reused (under common server timeouts).
KEEPALIVE_SECONDS = 2.0


class PayHeroProvider:
    identifier = "payhero"

    def __init__(self, settings: Settings) -> None:
        self._base = (settings.payhero_api_base or "").rstrip("/")
        self._auth = httpx.BasicAuth(settings.payhero_username, settings.payhero_password)
        self._channel_id = settings.payhero_channel_id
        self._callback_url = settings.payhero_callback_url
        self._client: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    async def start_payment(self, request: PaymentRequest) -> StartedPayment:
        phone = request.phone or ""
        if normalise_kenyan_phone(phone) != phone:
            raise PaymentError("invalid_phone", "Enter a Kenyan M-PESA number, such as 0712 345 678.")
        whole = 10 ** exponent(request.amount.currency)
        if request.amount.currency != "KES" or request.amount.amount <= 0 or request.amount.amount % whole:
            raise PaymentError("unsupported_amount", "M-PESA takes whole Kenyan shillings (KES) only.")
        body = {
            "amount": request.amount.amount // whole,
            "phone_number": phone,
            "channel_id": self._channel_id,
            "provider": "m-pesa",
            "external_reference": request.idempotency_key,
            "customer_name": request.metadata.get("customer_name", ""),
            "callback_url": self._callback_url,
        }
        answer = await self._call("POST", "/payments", json=body)
        reference = answer.get("reference")
        if not isinstance(reference, str) or not reference:
            raise PaymentError("unexpected_answer", "PayHero did not return a payment reference.")
        return StartedPayment(provider_reference=reference, next_action=NextAction.AWAIT_CUSTOMER)

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth:
        answer = await self._call("GET", "/transaction-status", params={"reference": provider_reference})
        status = answer.get("status")
        if status == "SUCCESS":
            receipt = answer.get("provider_reference") or answer.get("third_party_reference") or None
            return PaymentTruth(
                provider_reference=provider_reference,
                status=ProviderStatus.SUCCEEDED,
                amount=None,  # the status query has none; an STK push pays what it asked
                amount_as_requested=True,
                receipt_number=receipt,
            )
        if status == "FAILED":
            return PaymentTruth(
                provider_reference=provider_reference,
                status=ProviderStatus.FAILED,
                amount=None,
                failure_code=STATUS_QUERY_FAILED,
                failure_message=NOT_COMPLETED,
            )
        return PaymentTruth(provider_reference=provider_reference, status=ProviderStatus.PENDING, amount=None)

    async def cancel_payment(self, provider_reference: str) -> PaymentTruth:
        # A prompt on the customer's phone cannot be withdrawn; it ends on its own.
        return await self.fetch_payment(provider_reference)

    async def refund_payment(
        self, provider_reference: str, *, amount: Money, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Always refused: PayHero's v2 API documents no refund (reversal) of an STK
        push, so the merchant reverses it by hand in the M-PESA portal."""
        raise PaymentError("refund_unsupported", REFUND_UNSUPPORTED)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        try:
            payload = loads_json(body)
        except ValueError as exc:
            raise WebhookRejected(f"payload: not JSON ({exc})") from exc
        response = payload.get("response") if isinstance(payload, dict) else None
        if not isinstance(response, dict):
            raise WebhookRejected("payload: no response object")
        for name in ("CheckoutRequestID", "ExternalReference"):
            if not isinstance(response.get(name), str) or not response[name]:
                raise WebhookRejected(f"payload: response.{name} is missing")
        code = result_code(response)
        if code is None:
            raise WebhookRejected("payload: response.ResultCode is not a number")
        if not isinstance(response.get("ResultDesc"), str):
            raise WebhookRejected("payload: response.ResultDesc is missing")
        return ProviderEvent(
            event_id=f"{response['CheckoutRequestID']}:{code}",
            event_type="stk_result",
            provider_reference=response["ExternalReference"],
            payload=payload,
        )

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        response = payload.get("response")
        if not isinstance(response, dict):
            return truth
        if truth.status is ProviderStatus.SUCCEEDED:
            receipt = response.get("MpesaReceiptNumber")
            if truth.receipt_number or not isinstance(receipt, str) or not receipt:
                return truth
            return dataclasses.replace(truth, receipt_number=receipt)
        code = result_code(response)
        if truth.status is not ProviderStatus.FAILED or code is None or code == 0:
            return truth  # a callback never makes a success, nor contradicts the query
        status = ProviderStatus.CANCELLED if code == CANCELLED_BY_CUSTOMER else ProviderStatus.FAILED
        description = response.get("ResultDesc")
        return dataclasses.replace(
            truth,
            status=status,
            failure_code=f"mpesa_{code}",
            failure_message=mpesa_reason(code, description if isinstance(description, str) else None),
        )

    def _http(self) -> httpx.AsyncClient:
        """One client per event loop (its connections belong to the loop), kept: making
        one builds an SSL context (~35 ms of CPU on the event loop, per status query
        when made per call), and its pool keeps the connection to PayHero open
        between a burst's status queries."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client[0] is not loop:
            # A kept connection idle for longer than a server's keep-alive timeout (5 s
            # is common) may be closed under us: reuse one only while it is fresh.
            limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
            self._client = (loop, httpx.AsyncClient(auth=self._auth, timeout=20, limits=limits))
        return self._client[1]

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on the kept client. A status query (GET) that meets a kept
        connection the server has just closed is asked once more on a new one; a
        payment request (POST) is never sent twice by payflow: its failure is
        reported and the customer may try again."""
        client = self._http()
        try:
            return await client.request(method, f"{self._base}{path}", **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if method != "GET":
                raise
            return await client.request(method, f"{self._base}{path}", **kwargs)

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return await json_answer(
            self._request(method, path, **kwargs),
            unavailable="M-PESA could not be reached; please try again.",
            refused=_api_error,
            unreadable=_unreadable,
        )


def result_code(response: Mapping[str, Any]) -> int | None:
    """M-PESA's ResultCode, sent as a number or a numeric string."""
    code = response.get("ResultCode")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return bounded_int(code)
    return whole_number(code) if isinstance(code, str) else None


def _unreadable(status: int) -> PaymentError:
    return PaymentError("unexpected_answer", f"PayHero answered HTTP {status}.")


def _api_error(status: int, answer: Any) -> PaymentError:
    if not isinstance(answer, dict):
        return _unreadable(status)
    message = answer.get("error_message") or answer.get("message")
    if status in (401, 403):
        return PaymentError("unauthorized", "PayHero refused payflow's credentials.")
    if status == 404:
        return PaymentError("not_found", str(message or "PayHero does not know this payment."))
    return PaymentError("invalid_request", str(message or f"PayHero refused the request (HTTP {status})."))
