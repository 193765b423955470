from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from payflow_app.services.errors import DomainError, InvalidInput, NotFound
from payflow_app.services.throttle import TooManyAttempts


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one error shape of payflow's API: ``{"error": {"code", "message"}}``."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def invalid_input_response(exc: InvalidInput) -> JSONResponse:
    """400 with the message and, per field, what is wrong."""
    return JSONResponse(
        {"error": {"code": "invalid_input", "message": exc.message, "fields": exc.errors}}, status_code=400
    )


def domain_error_response(exc: DomainError) -> JSONResponse:
    """A service's refusal: 400 bad input, 404 not found, 429 throttled, 409 otherwise (the state forbids it)."""
    if isinstance(exc, InvalidInput):
        return invalid_input_response(exc)
    if isinstance(exc, NotFound):
        return error_response(404, exc.code, exc.message)
    if isinstance(exc, TooManyAttempts):  # throttled: 429, and when to come back
        response = error_response(429, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.wait_seconds)
        return response
    return error_response(409, exc.code, exc.message)


class BadRequest(Exception):
    """Raised while reading a request; the route answers it with ``response``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, code, message)


def int_field(body: dict[str, Any], name: str) -> int:
    """An integer member of a JSON body (``true`` is not one), or InvalidInput."""
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput({name: f"{name} must be an integer."})
    return value


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or BadRequest (415 / 400)."""
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadRequest(415, "json_required", "Send a JSON body (Content-Type: application/json).")
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest(400, "invalid_json", "The body must be a JSON object.")
    return body
