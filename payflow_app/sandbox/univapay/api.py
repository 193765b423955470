"""UnivaPay's REST API subset, offline: transaction tokens, charges (with
``Idempotency-Key`` and ``?polling=true``) and the 3-D Secure issuer token, with
UnivaPay's authorization and error bodies."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import BadRequest, read_body
from payflow_app.core.inputs import loads_json
from payflow_app.sandbox.faults import status_fault
from payflow_app.sandbox.univapay import processing, store
from payflow_app.sandbox.univapay.objects import (
    FieldError,
    charge_errors,
    new_charge,
    new_token,
    public,
    token_errors,
)
from payflow_app.settings import get_settings

POLLING_LIMIT_SECONDS = 10.0
POLLING_STEP_SECONDS = 0.1


def univapay_error(status: int, code: str, errors: Iterable[FieldError] = ()) -> JSONResponse:
    body = {
        "status": "error",
        "code": code,
        "errors": [{"field": e.field, "reason": e.reason} for e in errors],
    }
    return JSONResponse(body, status_code=status)


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def authorized(request: Request, *, public_allowed: bool = False) -> bool:
    """``Bearer {secret}.{jwt}`` (server calls), or ``Bearer {jwt}`` alone where the
    widget may call. The app token is a JWT, so it is the last three segments."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    parts = credential.split(".")
    if len(parts) < 3:
        return False
    secret, jwt = ".".join(parts[:-3]), ".".join(parts[-3:])
    settings = get_settings()
    if not _same(jwt, settings.univapay_app_token):
        return False
    return (public_allowed and not secret) or _same(secret, settings.univapay_secret)


def not_authorized() -> JSONResponse:
    return univapay_error(401, "NOT_AUTHORIZED")


async def json_body(request: Request) -> Mapping[str, Any] | None:
    try:
        body = loads_json(await read_body(request) or b"{}")
    except (ValueError, BadRequest):  # not JSON, nested too deep, or too large
        return None
    return body if isinstance(body, Mapping) else None


def create_token_now(body: Mapping[str, Any]) -> dict[str, Any] | list[FieldError]:
    """Validate and store a card token (the API's and the widget's one way);
    answers the stored token or what is wrong with the request."""
    errors = token_errors(body)
    return errors or store.save_token(new_token(body))


async def create_token(request: Request) -> Response:
    if not authorized(request, public_allowed=True):
        return not_authorized()
    body = await json_body(request)
    if body is None:
        return univapay_error(400, "BAD_REQUEST")
    created = await asyncio.to_thread(create_token_now, body)
    if isinstance(created, list):
        return univapay_error(400, "VALIDATION_ERROR", created)
    return JSONResponse(public(created), status_code=201)


async def create_charge(request: Request) -> Response:
    if not authorized(request):
        return not_authorized()
    body = await json_body(request)
    if body is None:
        return univapay_error(400, "BAD_REQUEST")
    errors = charge_errors(body)
    if errors:
        return univapay_error(400, "VALIDATION_ERROR", errors)
    token = await asyncio.to_thread(store.load_token, str(body["transaction_token_id"]))
    if token is None:
        return univapay_error(404, "NOT_FOUND")
    try:
        charge, created = await asyncio.to_thread(
            store.create_charge,
            new_charge(body, token),
            idempotency_key=request.headers.get("idempotency-key") or None,
        )
    except store.TokenAlreadyUsed:
        return univapay_error(
            400, "VALIDATION_ERROR", [FieldError("transaction_token_id", "TRANSACTION_ALREADY_PROCESSED")]
        )
    if created:
        processing.schedule_processing(charge["id"])
    return JSONResponse(public(charge), status_code=201)


async def store_charge(request: Request) -> dict[str, Any] | None:
    """The charge the path names, if it is this store's."""
    if request.path_params["store_id"] != get_settings().univapay_store_id:
        return None
    return await asyncio.to_thread(store.load_charge, request.path_params["charge_id"])


async def get_charge(request: Request) -> Response:
    if not authorized(request):
        return not_authorized()
    if await status_fault("univapay"):
        return univapay_error(500, "INTERNAL_SERVER_ERROR")
    charge = await store_charge(request)
    if charge is None:
        return univapay_error(404, "NOT_FOUND")
    charge = await processing.process_if_stale(charge)
    if request.query_params.get("polling") == "true":
        deadline = time.monotonic() + POLLING_LIMIT_SECONDS
        while charge["status"] == "pending" and time.monotonic() < deadline:
            await asyncio.sleep(POLLING_STEP_SECONDS)
            charge = await asyncio.to_thread(store.load_charge, charge["id"]) or charge
    return JSONResponse(public(charge))


async def get_issuer_token(request: Request) -> Response:
    if not authorized(request):
        return not_authorized()
    charge = await store_charge(request)
    if charge is None:
        return univapay_error(404, "NOT_FOUND")
    if charge["status"] != "awaiting":
        return univapay_error(400, "INVALID_CHARGE_STATUS")
    return JSONResponse(
        {
            "issuer_token": f"{get_settings().public_url}/sandbox/univapay/3ds/{charge['id']}",
            "call_method": "http_get",
            "payload": {},
            "content_type": "application/x-www-form-urlencoded",
            "payment_type": "card",
        }
    )
