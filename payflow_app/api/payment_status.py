"""``GET /payments/check-status?session_id=…`` for API clients (design 1)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import error_response
from payflow_app.services.payments import attempts
from payflow_app.services.payments.snapshot import order_snapshot


async def check_status(request: Request) -> Response:
    session_id = request.query_params.get("session_id", "").strip()
    if not session_id:
        return error_response(400, "missing_session_id", "The session_id query parameter is required.")
    payment = await asyncio.to_thread(attempts.find_payment_by_reference, session_id)
    if payment is None:
        return error_response(404, "session_not_found", f"No payment has session id {session_id}.")
    snapshot = await asyncio.to_thread(order_snapshot, payment.order_id, with_qr=False)
    assert snapshot is not None
    return JSONResponse(
        {
            "sessionId": session_id,
            "isProcessed": snapshot.is_processed,
            "paymentStatus": payment.status,
            "transactionStatus": snapshot.order_status,
            "paymentType": snapshot.kind,
        }
    )
