"""The API's one error shape and the shared readers of what a request carries: its
body (size-limited, JSON nested not too deep), integers in bodies, and ids in paths
(the ``{name:id}`` convertor). Every reader refuses bad input with a 4xx, never a 5xx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from payflow_app.core import inputs
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.services.accounts.throttle import TooManyAttempts
from payflow_app.settings import get_settings


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


ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class AnyPathConvertor(Convertor[str]):
    """``{name:anypath}``: the rest of the path, whatever it holds (Starlette's own
    ``path`` stops at a newline, ``%0A``, and the request would miss the route)."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def unknown_route(routes: Sequence[BaseRoute]) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint routed last, for any ``/api/`` path and method none of ``routes``
    takes: 405 when the path is one of theirs (another method), else 404 (an id
    outside 1..2^31-1 too). Both in payflow's error shape."""
    paths = [route.path_regex for route in routes if isinstance(route, Route)]

    async def answer(request: Request) -> JSONResponse:
        if any(path.match(request.url.path) for path in paths):
            return error_response(405, "method_not_allowed", f"{request.method} is not allowed here.")
        return error_response(404, "not_found", "No API route has this path.")

    return answer


class BadRequest(Exception):
    """Raised while reading a request; the route answers it with ``response``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, code, message)


class BodyTooLarge(BadRequest):
    """413: the body is over ``limit`` bytes. ``head`` is what was read of it (at most
    ``limit`` + one chunk), ``size`` its declared length, else how much was read."""

    def __init__(self, limit: int, head: bytes, size: int) -> None:
        super().__init__(413, "body_too_large", f"The request body is larger than {limit:,} bytes.")
        self.head, self.size = head, size


def int_field(
    body: dict[str, Any], name: str, *, minimum: int = inputs.MIN_INT, maximum: int = inputs.MAX_INT
) -> int:
    """An integer member of a JSON body (``true`` is not one) within the bounds
    (by default what an INTEGER column holds on PostgreSQL), or InvalidInput."""
    value = inputs.bounded_int(body.get(name), minimum=minimum, maximum=maximum)
    if value is None:
        raise InvalidInput({name: f"{name} must be an integer from {minimum:,} to {maximum:,}."})
    return value


def _declared_length(request: Request) -> int | None:
    return inputs.whole_number(request.headers.get("content-length", ""), minimum=0)


async def read_body(request: Request, *, limit: int | None = None) -> bytes:
    """The request body, read as it streams in and refused (:class:`BodyTooLarge`)
    as soon as it passes ``limit`` bytes (``PAYFLOW_MAX_BODY_BYTES`` by default), so
    a huge body is never held in memory. Call it once per request."""
    limit = get_settings().max_body_bytes if limit is None else limit
    declared = _declared_length(request)
    too_large = declared is not None and declared > limit
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        received += len(chunk)
        if too_large or received > limit:
            break  # the first chunk is kept: operators see how a refused body began
    if too_large or received > limit:
        raise BodyTooLarge(limit, b"".join(chunks), max(declared or 0, received))
    return b"".join(chunks)


async def json_object(request: Request, *, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object body, or BadRequest: 415 (not JSON), 413 (larger
    than ``limit``), 400 (invalid, nested deeper than ``inputs.MAX_JSON_DEPTH``, or
    not an object)."""
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadRequest(415, "json_required", "Send a JSON body (Content-Type: application/json).")
    try:
        body = inputs.loads_json(await read_body(request, limit=limit))
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest(400, "invalid_json", "The body must be a JSON object.")
    return body


def _up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1..``limit`` (no leading zeros)."""
    digits = str(limit)
    choices = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"]  # fewer digits than the limit
    for i, digit in enumerate(digits):  # as many: equal up to i, then a smaller digit
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            choices.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{len(digits) - i - 1}}}")
    return "|".join([*choices, digits])


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route's path: a row id, 1..2^31-1 in ASCII digits. Anything
    else (0, a sign, ``²``, a number beyond 32 bits) does not match the route, so it
    answers 404 and never reaches the database (where it would overflow)."""

    regex = _up_to(inputs.MAX_ID)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 1 <= value <= inputs.MAX_ID:
            raise ValueError("an id is 1..2^31-1")
        return str(value)
