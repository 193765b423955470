"""``GET /api/tickets/{number}/qr.png``: a ticket's QR as a PNG download, for its
owner only (anyone else gets the same 404 as for a ticket that does not exist)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from payflow_app.api.auth import request_user
from payflow_app.api.errors import error_response
from payflow_app.core.qr import qr_png
from payflow_app.services.payments import account_overview


async def ticket_qr_png(request: Request) -> Response:
    user = await request_user(request)
    if user is None:
        return error_response(401, "not_signed_in", "Log in to download your tickets.")
    number = request.path_params["number"]
    ticket = await asyncio.to_thread(account_overview.ticket_of, user_id=user.id, number=number)
    if ticket is None:
        return error_response(404, "ticket_not_found", "No ticket of yours has this number.")
    if not ticket.qr_token:
        return error_response(410, "ticket_revoked", "This ticket was revoked: its QR code admits nobody.")
    png = await asyncio.to_thread(qr_png, ticket.qr_token, box_size=10)
    return Response(
        png,
        media_type="image/png",
        headers={
            "Content-Disposition": f'attachment; filename="{number}.png"',
            "Cache-Control": "private, no-store",
        },
    )
