"""Check-in for scanning devices, and the key to verify tickets offline.

- ``GET /.well-known/jwks.json``: the public key that signs ticket QR tokens (ES256).
- ``POST /api/checkin`` ``{"code", "operator"?}`` with ``Authorization: Bearer <device
  token>``: verify a scanned QR token (or a typed ticket number) for the device's event
  and redeem it → ``{"ok", "reason", "message", "ticket", "first_check_in", …}``. A
  refused ticket is an answer, not an error: 200 with ``ok: false`` and the reason.
- ``POST /api/checkin/offline`` ``{"scans": [{"nonce", "code", "scanned_at"}]}``: scans
  made without the network, uploaded later; a nonce sent before is answered as then.
- ``GET /api/checkin/revocations``: the device's event, its revoked token nonces and
  ``tickets_valid_until`` (the event's current start plus the grace period; a scanner
  judges expiry by it rather than by a token's ``exp``, which the event's move may
  have made stale).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import BadRequest, domain_error_response, error_response, json_object
from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.core.inputs import utc_time
from payflow_app.models import CheckInDevice, pk, utcnow
from payflow_app.services.tickets import checkin, devices
from payflow_app.services.tickets.tokens import jwks

MAX_UPLOAD = 500
OFFLINE_MAX_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)  # a device's clock may run a little ahead
# Scans wait on the database (a commit's flush) far more than they compute: one thread
# per gate client in flight, beside the loop's small default pool.
_SCANNERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="check-in")
DeviceHandler = Callable[[Request, CheckInDevice], Awaitable[Response]]


async def public_keys(_request: Request) -> Response:
    return JSONResponse(await asyncio.to_thread(jwks), headers={"Cache-Control": "public, max-age=300"})


def device_only(handler: DeviceHandler) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        device = None
        if scheme.lower() == "bearer":
            token = token.strip()
            # A gate scans many times a second: a device seen moments ago needs no thread.
            device = devices.cached_device(token) or await asyncio.to_thread(devices.device_for_token, token)
        if device is None:
            return error_response(
                401,
                "invalid_device_token",
                "Send the device token the organizer issued: Authorization: Bearer pfd_…",
            )
        try:
            return await handler(request, device)
        except BadRequest as exc:
            return exc.response
        except DomainError as exc:
            return domain_error_response(exc)

    return guarded


def _gate(device: CheckInDevice, body: dict[str, object]) -> checkin.Gate:
    operator = body.get("operator")
    if operator is not None and (not isinstance(operator, str) or len(operator) > 200):
        raise InvalidInput({"operator": "operator must be a name of at most 200 characters."})
    return checkin.Gate(
        event_id=device.event_id,
        name=device.name,
        operator=(operator or "").strip() or f"device {device.name}",
        device_id=pk(device),
    )


def _code(body: dict[str, object], field: str = "code") -> str:
    code = body.get(field)
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput({field: f"{field} must be the scanned QR text or a ticket number."})
    return code


@device_only
async def scan(request: Request, device: CheckInDevice) -> Response:
    body = await json_object(request)
    scan_in = functools.partial(checkin.check_in, _gate(device, body), _code(body))
    result = await asyncio.get_running_loop().run_in_executor(_SCANNERS, scan_in)
    return JSONResponse({"event_id": device.event_id, **result.as_json()})


def _offline_scan(item: object, index: int) -> checkin.OfflineScan:
    if not isinstance(item, dict):
        raise InvalidInput({f"scans[{index}]": "Each scan is an object {nonce, code, scanned_at}."})
    nonce = item.get("nonce")
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 80:
        raise InvalidInput({f"scans[{index}].nonce": "nonce must be a string of 8 to 80 characters."})
    moment = utc_time(item.get("scanned_at"))  # None also for 0001-01-01T00:00:00+14:00 (before UTC's range)
    if moment is None:
        raise InvalidInput({f"scans[{index}].scanned_at": "scanned_at must be an ISO 8601 time."})
    now = utcnow()
    if not now - OFFLINE_MAX_AGE <= moment <= now + CLOCK_SKEW:
        # A device's wrong clock would otherwise become the time gates quote.
        raise InvalidInput(
            {f"scans[{index}].scanned_at": "scanned_at must be within the last 7 days and not in the future."}
        )
    code = item.get("code")
    # Checked here, not when the scan is checked in: a batch is refused whole or not at all.
    if not isinstance(code, str) or not 0 < len(code.strip()) <= checkin.MAX_CODE_LENGTH:
        raise InvalidInput({f"scans[{index}].code": "code must be the scanned QR text or a ticket number."})
    return checkin.OfflineScan(nonce=nonce, code=code, scanned_at=moment)


@device_only
async def upload_offline(request: Request, device: CheckInDevice) -> Response:
    body = await json_object(request)
    items = body.get("scans")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_UPLOAD:
        raise InvalidInput({"scans": f"scans must be a list of 1 to {MAX_UPLOAD} scans."})
    scans = [_offline_scan(item, i) for i, item in enumerate(items)]  # all valid, or nothing recorded
    results = await asyncio.to_thread(checkin.upload_offline_scans, _gate(device, body), scans)
    return JSONResponse(
        {
            "event_id": device.event_id,
            "results": [{"nonce": s.nonce, **r.as_json()} for s, r in zip(scans, results, strict=True)],
        }
    )


@device_only
async def revocations(_request: Request, device: CheckInDevice) -> Response:
    nonces = await asyncio.to_thread(devices.revoked_nonces, device.event_id)
    valid_until = await asyncio.to_thread(devices.tickets_valid_until, device.event_id)
    return JSONResponse(
        {
            "event_id": device.event_id,
            "revoked_nonces": nonces,
            # From the event's current start: wins over a token's exp (the event may have moved).
            "tickets_valid_until": valid_until.isoformat(),
            "jwks": "/.well-known/jwks.json",
        }
    )
