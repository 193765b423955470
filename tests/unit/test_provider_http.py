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


def _payhero_with(handler: Any) -> Any:
    """A PayHero adapter whose kept client answers through ``handler``."""
    from payflow_app.providers.payhero import PayHeroProvider
    from payflow_app.settings import get_settings

    provider = PayHeroProvider(get_settings().model_copy(update={"payhero_api_base": "https://payhero.test"}))

    async def bind() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        provider._client = (asyncio.get_running_loop(), client)

    return provider, bind


def _stale_first(answer: httpx.Response) -> tuple[Any, list[str]]:
    """A server that closed the kept connection: the first request fails mid-read."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) == 1:
            raise httpx.ReadError("connection closed by the server", request=request)
        return answer

    return handler, seen


def test_a_status_query_on_a_connection_the_server_closed_is_asked_again() -> None:
    handler, seen = _stale_first(httpx.Response(200, json={"status": "SUCCESS", "provider_reference": "QK1"}))
    provider, bind = _payhero_with(handler)

    async def ask() -> Any:
        await bind()
        return await provider.fetch_payment("pay_1")

    truth = asyncio.run(ask())
    assert (truth.status, truth.receipt_number) == ("succeeded", "QK1")
    assert seen == ["GET", "GET"]


def test_a_payment_request_is_never_sent_twice_by_payflow() -> None:
    handler, seen = _stale_first(httpx.Response(201, json={"reference": "ref_1"}))
    provider, bind = _payhero_with(handler)

    async def push() -> Any:
        await bind()
        return await provider._call("POST", "/payments", json={"amount": 100})

    with pytest.raises(PaymentError) as failed:
        asyncio.run(push())
    assert failed.value.code == "provider_unavailable"
    assert seen == ["POST"]  # the customer is told to try again; M-PESA is not prompted twice
