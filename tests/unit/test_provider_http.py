"""The HTTP rails' shared reading of an answer: which failure becomes which error."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from payflow_app.providers.base import PaymentError
from payflow_app.providers.http import json_answer


def _answer(handler: Any) -> dict[str, Any]:
    async def call() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await json_answer(
                client.get("https://provider.test/x"),
                unavailable="Unreachable; try again.",
                refused=lambda status, body: PaymentError("refused", f"{status} {body!r}"),
                unreadable=lambda status: PaymentError("unexpected_answer", f"HTTP {status}"),
            )

    return asyncio.run(call())


def _error(handler: Any) -> tuple[str, str]:
    with pytest.raises(PaymentError) as failed:
        _answer(handler)
    return failed.value.code, failed.value.message


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def test_a_json_object_is_the_answer() -> None:
    assert _answer(lambda _r: httpx.Response(201, json={"id": "ch_1"})) == {"id": "ch_1"}


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (_down, ("provider_unavailable", "Unreachable; try again.")),
        (
            lambda _r: httpx.Response(503, json={"id": "x"}),
            ("provider_unavailable", "Unreachable; try again."),
        ),
        (
            lambda _r: httpx.Response(404, json={"code": "NOT_FOUND"}),
            ("refused", "404 {'code': 'NOT_FOUND'}"),
        ),
        (lambda _r: httpx.Response(400, text="<html>"), ("refused", "400 None")),
        (lambda _r: httpx.Response(200, json=[1]), ("unexpected_answer", "HTTP 200")),
        (lambda _r: httpx.Response(200, text="not json"), ("unexpected_answer", "HTTP 200")),
    ],
    ids=["unreachable", "5xx", "4xx", "4xx-not-json", "2xx-list", "2xx-not-json"],
)
def test_each_failure_becomes_its_payment_error(handler: Any, expected: tuple[str, str]) -> None:
    assert _error(handler) == expected
