"""The HTTP rails' one way to read a provider's JSON answer (PayHero, UnivaPay).

Every failure becomes a :class:`~payflow_app.providers.base.PaymentError`: the
provider unreachable or answering 5xx is ``provider_unavailable`` (the caller may
retry); a 4xx is the provider's refusal, worded by the rail; anything but a JSON
object is an answer the rail cannot read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from payflow_app.providers.base import PaymentError

UNAVAILABLE = "provider_unavailable"


async def json_answer(
    response: Awaitable[httpx.Response],
    *,
    unavailable: str,
    refused: Callable[[int, Any], PaymentError],
    unreadable: Callable[[int], PaymentError],
) -> dict[str, Any]:
    """The JSON object ``response`` answers. ``unavailable``: the customer's words for
    an unreachable provider; ``refused(status, body)``: the error for a 4xx (``body``
    is its JSON, or None); ``unreadable(status)``: for a 2xx that is no JSON object."""
    try:
        answered = await response
    except httpx.HTTPError as exc:
        raise PaymentError(UNAVAILABLE, unavailable) from exc
    if answered.status_code >= 500:
        raise PaymentError(UNAVAILABLE, unavailable)
    try:
        answer = answered.json()
    except ValueError:
        answer = None
    if answered.status_code >= 400:
        raise refused(answered.status_code, answer)
    if not isinstance(answer, dict):
        raise unreadable(answered.status_code)
    return answer
