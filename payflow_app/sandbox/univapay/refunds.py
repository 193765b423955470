"""UnivaPay's refunds, offline: ``POST /stores/{storeId}/charges/{chargeId}/refunds``
(JSON, ``Idempotency-Key``) answers 201 a ``pending`` refund, processed
asynchronously to ``successful`` or ``failed`` and then sent as ``refund_finished``;
``GET …/refunds/{refundId}`` (``?polling=true`` waits while it is pending).

Only a ``successful`` charge is refundable (else ``CANNOT_REFUND_UNSUCCESSFUL_CHARGE``),
for at most what is left of it (``REFUND_EXCEEDS_CHARGE_AMOUNT`` beyond the charge,
``REFUND_NOT_WITHIN_BOUNDS`` beyond what earlier refunds left).

Test cards, a deliberate deviation: UnivaPay's test mode fails the refund of a card
ending 4242, but 4242 is payflow's everyday success card, so here the refund of a
charge paid with a card ending **1881** fails (error 329, "Refund failed"), and
every other refund succeeds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.sandbox.univapay import processing, store
from payflow_app.sandbox.univapay.api import (
    POLLING_LIMIT_SECONDS,
    POLLING_STEP_SECONDS,
    authorized,
    json_body,
    not_authorized,
    store_charge,
    univapay_error,
)
from payflow_app.sandbox.univapay.objects import (
    CARD_NUMBER,
    FieldError,
    formatted,
    money_errors,
    new_id,
    public,
    timestamp,
)

REASONS = ("duplicate", "fraud", "customer_request", "chargeback")
FAILING_REFUND_ENDING = "1881"
# UnivaPay's processing error 329 is REFUND_FAILED (univapay-node errors/parser.ts).
REFUND_FAILED = {
    "code": 329,
    "message": "Refund failed",
    "detail": "The issuer refused the refund (sandbox test card ending 1881).",
}
_tasks: set[asyncio.Task[None]] = set()


def refund_errors(body: Mapping[str, Any]) -> list[FieldError]:
    errors = money_errors(body)
    if body.get("reason") is not None and body["reason"] not in REASONS:
        errors.append(FieldError("reason", "INVALID_FORMAT"))
    if body.get("message") is not None and not isinstance(body["message"], str):
        errors.append(FieldError("message", "INVALID_FORMAT"))
    if not isinstance(body.get("metadata", {}), Mapping):
        errors.append(FieldError("metadata", "INVALID_FORMAT_OBJECT"))
    return errors


def new_refund(body: Mapping[str, Any], charge: Mapping[str, Any]) -> dict[str, Any]:
    """A ``pending`` refund from a request ``refund_errors`` found nothing wrong in."""
    amount, currency = body["amount"], body["currency"].upper()
    return {
        "id": new_id(),
        "store_id": charge["store_id"],
        "charge_id": charge["id"],
        "ledger_id": None,
        "status": "pending",
        "amount": amount,
        "currency": currency,
        "amount_formatted": formatted(amount, currency),
        "reason": body.get("reason"),
        "message": body.get("message"),
        "error": None,
        "metadata": dict(body.get("metadata") or {}),
        "mode": "test",
        "created_on": timestamp(),
    }


async def process_refund(refund_id: str) -> dict[str, Any] | None:
    """Take a pending refund to its outcome and send ``refund_finished``; None if it
    was not pending."""
    refund = await asyncio.to_thread(store.load_refund, refund_id)
    if refund is None or refund["status"] != "pending":
        return None
    charge = await asyncio.to_thread(store.load_charge, refund["charge_id"])
    token = await asyncio.to_thread(store.load_token, charge["transaction_token_id"]) if charge else None
    failing = token is not None and str(token[CARD_NUMBER]).endswith(FAILING_REFUND_ENDING)
    changes = {"status": "failed", "error": REFUND_FAILED} if failing else {"status": "successful"}
    finished = await asyncio.to_thread(store.finish_refund, refund_id, **changes)
    if finished is not None:
        processing.send_webhook(public(finished), event="refund_finished")
    return finished


async def _process_later(refund_id: str) -> None:
    await asyncio.sleep(processing.PROCESSING_DELAY_SECONDS)
    await process_refund(refund_id)


def _schedule_processing(refund_id: str) -> None:
    task = asyncio.get_running_loop().create_task(_process_later(refund_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _current(refund: dict[str, Any]) -> dict[str, Any]:
    """The refund as it is now, processed first if its processing was lost (a restart)."""
    if refund["status"] != "pending":
        return refund
    created = datetime.fromisoformat(refund["created_on"].replace("Z", "+00:00"))
    if (datetime.now(UTC) - created).total_seconds() < processing.STALE_PENDING_SECONDS:
        return refund
    return (
        await process_refund(refund["id"])
        or await asyncio.to_thread(store.load_refund, refund["id"])
        or refund
    )


async def create_refund(request: Request) -> Response:
    if not authorized(request):
        return not_authorized()
    charge = await store_charge(request)
    if charge is None:
        return univapay_error(404, "NOT_FOUND")
    body = await json_body(request)
    if body is None:
        return univapay_error(400, "BAD_REQUEST")
    errors = refund_errors(body)
    if errors:
        return univapay_error(400, "VALIDATION_ERROR", errors)
    try:
        refund, created = await asyncio.to_thread(
            store.create_refund,
            new_refund(body, charge),
            idempotency_key=request.headers.get("idempotency-key") or None,
        )
    except store.RefundRefused as refused:
        return univapay_error(400, refused.code, refused.errors)
    if created:
        _schedule_processing(refund["id"])
    return JSONResponse(public(refund), status_code=201)


async def get_refund(request: Request) -> Response:
    if not authorized(request):
        return not_authorized()
    charge = await store_charge(request)
    refund = await asyncio.to_thread(store.load_refund, request.path_params["refund_id"])
    if charge is None or refund is None or refund["charge_id"] != charge["id"]:
        return univapay_error(404, "NOT_FOUND")
    refund = await _current(refund)
    if request.query_params.get("polling") == "true":
        deadline = time.monotonic() + POLLING_LIMIT_SECONDS
        while refund["status"] == "pending" and time.monotonic() < deadline:
            await asyncio.sleep(POLLING_STEP_SECONDS)
            refund = await asyncio.to_thread(store.load_refund, refund["id"]) or refund
    return JSONResponse(public(refund))
