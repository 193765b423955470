"""Stripe's Refund API subset, offline: ``POST /v1/refunds`` on a PaymentIntent or a
Charge, ``GET /v1/refunds`` (filtered by ``payment_intent`` or ``charge``) and
``GET /v1/refunds/{id}``, form-encoded with Stripe's objects and errors.

A refund is made in one transaction that locks the Charge, checks what is left to
refund and records the ``Idempotency-Key`` beside the refund, so concurrent
requests with one key make one refund. Card refunds succeed at once; the app is
sent ``charge.refunded``. Unlike Stripe, a replayed key answers the refund as it is
now (Stripe replays the first response, for 24 hours), and a refused request does
not hold its key (Stripe replays the error too)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.inputs import whole_number
from payflow_app.core.money import format_money
from payflow_app.models import SandboxObject
from payflow_app.sandbox import stripe_store as store
from payflow_app.sandbox.delivery import schedule_delivery
from payflow_app.sandbox.stripe_api import authorized, stripe_error, unauthorized

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class RefundRefused(Exception):
    """The request cannot make a refund; carries Stripe's error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.type_ = status, message, code, param, type_

    def response(self) -> JSONResponse:
        return stripe_error(self.status, self.message, type_=self.type_, code=self.code, param=self.param)


def requested_refund(form: dict[str, Any]) -> dict[str, Any]:
    """The create parameters, checked; raises RefundRefused."""
    intent, charge = form.get("payment_intent") or None, form.get("charge") or None
    if not intent and not charge:
        raise RefundRefused(
            400,
            "One of the following params should be provided for this request: payment_intent or charge.",
            code="parameter_missing",
            param="payment_intent",
        )
    amount = form.get("amount")
    if amount is not None:
        amount = whole_number(str(amount), minimum=1)
        if amount is None:
            raise RefundRefused(
                400, "Invalid positive integer", code="parameter_invalid_integer", param="amount"
            )
    reason = form.get("reason") or None
    if reason is not None and reason not in REASONS:
        raise RefundRefused(400, f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason")
    metadata = form.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RefundRefused(400, "Invalid object", param="metadata")
    return {
        "payment_intent": intent,
        "charge": charge,
        "amount": amount,
        "reason": reason,
        "metadata": metadata,
    }


def _stripe_row(db: Session, object_id: str, kind: str, *, lock: bool = False) -> SandboxObject | None:
    row = db.get(SandboxObject, object_id, with_for_update=lock)
    return row if row is not None and row.provider == "stripe" and row.kind == kind else None


def _locked_charge(db: Session, requested: dict[str, Any]) -> SandboxObject:
    charge_id = requested["charge"]
    if charge_id is None:
        intent_id = requested["payment_intent"]
        intent_row = _stripe_row(db, intent_id, "payment_intent")
        if intent_row is None:
            raise RefundRefused(
                404, f"No such payment_intent: '{intent_id}'", code="resource_missing", param="payment_intent"
            )
        intent = json.loads(intent_row.data)
        if intent["status"] != "succeeded" or not intent.get("latest_charge"):
            raise RefundRefused(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        charge_id = intent["latest_charge"]
    row = _stripe_row(db, charge_id, "charge", lock=True)
    if row is None:
        raise RefundRefused(404, f"No such charge: '{charge_id}'", code="resource_missing", param="charge")
    charge = json.loads(row.data)
    if requested["payment_intent"] not in (None, charge["payment_intent"]):
        raise RefundRefused(400, "The charge does not belong to this PaymentIntent.", param="charge")
    if not charge.get("paid") or not charge.get("captured"):
        raise RefundRefused(
            400, f"Charge {charge_id} has not been captured.", code="charge_not_refundable", param="charge"
        )
    return row


def _replayed(db: Session, refund_id: str, requested: dict[str, Any], key: str) -> dict[str, Any]:
    row = _stripe_row(db, refund_id, "refund")
    refund = json.loads(row.data) if row is not None else None
    if refund is None or any(
        requested[name] not in (None, refund[name]) for name in ("payment_intent", "charge", "amount")
    ):
        raise RefundRefused(
            400,
            "Keys for idempotent requests can only be used with the same parameters they were first "
            f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            type_="idempotency_error",
        )
    return dict(refund)


def _new_refund(charge: dict[str, Any], amount: int, requested: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": store.new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": store.new_id("txn_"),
        "charge": charge["id"],
        "created": int(time.time()),
        "currency": charge["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": requested["metadata"],
        "payment_intent": charge["payment_intent"],
        "reason": requested["reason"],
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
        "customer": None,
        "customer_account": None,
        "payment_method": charge.get("payment_method"),
    }


def create_refund(
    requested: dict[str, Any], *, idempotency_key: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Refund from the requested Charge; answers (refund, the refunded charge), the
    charge None when the key replays an earlier refund. Raises RefundRefused."""
    idem_id = f"idem_{idempotency_key}" if idempotency_key else None
    try:
        with write_transaction() as db:
            charge_row = _locked_charge(db, requested)
            if idem_id is not None and (seen := db.get(SandboxObject, idem_id)) is not None:
                return _replayed(db, seen.data, requested, str(idempotency_key)), None
            charge = json.loads(charge_row.data)
            remaining = charge["amount_captured"] - charge["amount_refunded"]
            if remaining <= 0:
                raise RefundRefused(
                    400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
                )
            amount = requested["amount"] or remaining
            if amount > remaining:
                currency = charge["currency"].upper()
                raise RefundRefused(
                    400,
                    f"Refund amount ({format_money(amount, currency)}) is greater than unrefunded amount "
                    f"on charge ({format_money(remaining, currency)})",
                    code="amount_too_large",
                    param="amount",
                )
            refund = _new_refund(charge, amount, requested)
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
            charge_row.data = json.dumps(charge)
            db.add(charge_row)
            db.add(SandboxObject(id=refund["id"], provider="stripe", kind="refund", data=json.dumps(refund)))
            if idem_id is not None:
                db.add(SandboxObject(id=idem_id, provider="stripe", kind="idempotency", data=refund["id"]))
            return refund, charge
    except IntegrityError:
        if idem_id is None:  # the same key raced in from a concurrent request, which won
            raise
        with read_session() as db:
            seen = db.get(SandboxObject, idem_id)
            assert seen is not None
            return _replayed(db, seen.data, requested, str(idempotency_key)), None


def list_refunds(*, payment_intent: str | None, charge: str | None) -> list[dict[str, Any]]:
    """Every refund (newest first), of one PaymentIntent or Charge when given."""
    with read_session() as db:
        rows = db.exec(
            select(SandboxObject).where(SandboxObject.provider == "stripe", SandboxObject.kind == "refund")
        ).all()
    refunds = [json.loads(row.data) for row in rows]
    return sorted(
        (
            r
            for r in refunds
            if payment_intent in (None, r["payment_intent"]) and charge in (None, r["charge"])
        ),
        key=lambda r: (r["created"], r["id"]),
        reverse=True,
    )


async def create(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    key = request.headers.get("idempotency-key") or None
    try:
        form = store.parse_form(list((await request.form()).multi_items()))  # type: ignore[arg-type]
    except ValueError as exc:
        return stripe_error(400, f"Invalid request: {exc}")
    try:
        refund, charge = await asyncio.to_thread(create_refund, requested_refund(form), idempotency_key=key)
    except RefundRefused as refused:
        return refused.response()
    if charge is None:
        return JSONResponse(refund, headers={"Idempotent-Replayed": "true"})
    schedule_delivery(await asyncio.to_thread(store.make_event, "charge.refunded", charge))
    return JSONResponse(refund)


async def list_(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    query = request.query_params
    limit = whole_number(query.get("limit", "10"), minimum=1, maximum=100)
    if limit is None:
        return stripe_error(400, "Invalid integer: limit must be between 1 and 100", param="limit")
    refunds = await asyncio.to_thread(
        list_refunds, payment_intent=query.get("payment_intent"), charge=query.get("charge")
    )
    page = refunds[:limit]
    return JSONResponse(
        {"object": "list", "data": page, "has_more": len(refunds) > len(page), "url": "/v1/refunds"}
    )


async def retrieve(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    refund_id = request.path_params["refund_id"]
    refund = await asyncio.to_thread(store.load, refund_id, "refund")
    if refund is None:
        return stripe_error(404, f"No such refund: '{refund_id}'", code="resource_missing", param="id")
    return JSONResponse(refund)
