"""Organizer endpoints (session cookie of an organizer; their own events only:
someone else's event answers 404 like one that does not exist).

- ``GET /api/organizer/events/{id}/attendees.csv?q=&status=&type=&checked_in=``: the
  attendee list, filtered like the page, as CSV.
- ``POST /api/organizer/events/{id}/devices`` ``{"name"}``: issue a scanning device's
  token (shown once) → 201 ``{"id", "name", "token"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.auth import request_user
from payflow_app.api.errors import BadRequest, domain_error_response, error_response, json_object
from payflow_app.core.errors import DomainError
from payflow_app.models import Event, pk
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer import attendees, events
from payflow_app.services.tickets import devices

EventHandler = Callable[[Request, SessionUser, Event], Awaitable[Response]]


def organizer_only(handler: EventHandler) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        user = await request_user(request)
        if user is None:
            return error_response(401, "not_signed_in", "Sign in with an organizer account.")
        if user.role not in events.ORGANIZER_ROLES:
            return error_response(403, "forbidden", "Only organizers can do this.")
        try:
            event = await asyncio.to_thread(events.event_of, user, request.path_params["event_id"])
            return await handler(request, user, event)
        except BadRequest as exc:
            return exc.response
        except DomainError as exc:
            return domain_error_response(exc)

    return guarded


@organizer_only
async def attendees_csv(request: Request, _user: SessionUser, event: Event) -> Response:
    where = attendees.filter_from(request.query_params)
    body = await asyncio.to_thread(attendees.attendees_csv, pk(event), where)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="attendees-{event.slug}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@organizer_only
async def issue_device(request: Request, user: SessionUser, event: Event) -> Response:
    body = await json_object(request)
    name = body.get("name")
    issued = await asyncio.to_thread(
        devices.issue_device, user, event_id=pk(event), name=name if isinstance(name, str) else ""
    )
    return JSONResponse({"id": issued.id, "name": issued.name, "token": issued.token}, status_code=201)
