from __future__ import annotations

from starlette.responses import JSONResponse


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one error shape of payflow's API: ``{"error": {"code", "message"}}``."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
