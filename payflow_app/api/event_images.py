"""``GET /api/event-images/{name}``: an event's picture (public, like the event page)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from payflow_app.api.errors import error_response
from payflow_app.services.organizer import images


async def event_image(request: Request) -> Response:
    found = await asyncio.to_thread(images.load, request.path_params["name"])
    if found is None:
        return error_response(404, "image_not_found", "No event picture has this name.")
    data, media_type = found
    # Names are random and never reused: the picture behind one never changes.
    return Response(
        data, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )
