"""The ceiling for figure 4: a bare Starlette endpoint (read the body, answer JSON),
served by granian with the app's worker count — the server software
``reflex run --env prod`` serves payflow with."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def receive(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"received": True, "duplicate": False})


# GET too, so that the benchmark can tell when it is up.
app = Starlette(routes=[Route("/api/payhero/callback", receive, methods=["GET", "POST"])])
