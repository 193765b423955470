"""Credentials never reach storage: what the webhook inbox keeps of a request's headers
(operators read it in the console and the admin API) has every credential replaced by
``[redacted]``. Verification happens before, on the live request, so it still sees
them. The raw body is kept as it came (replay needs it; no provider puts a credential
there)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

REDACTED = "[redacted]"
# Headers that carry a credential whatever their value looks like.
_CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
    }
)
# And any other whose name says it holds one (x-auth-token, x-access-token, x-secret, …).
_CREDENTIAL_NAME = re.compile(r"auth|token|secret|passw|api[-_]?key|credential|session", re.IGNORECASE)
# A URL in a header (a proxy's X-Original-URI, a Referer) can carry the PayHero callback
# token, or another secret, in its query string.
_SECRET_QUERY = re.compile(
    r"([?&;](?:token|access_token|api_?key|key|secret|password|signature|sig)=)[^&;#\s\"]*", re.IGNORECASE
)


def is_credential_header(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in _CREDENTIAL_HEADERS or bool(_CREDENTIAL_NAME.search(lowered))


def redact_url(url: str) -> str:
    """``/api/payhero/callback?token=s3cret`` → ``/api/payhero/callback?token=[redacted]``."""
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, url)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as they may be stored and shown: credential headers' values
    replaced, secret query parameters in the others (URLs) replaced."""
    return {
        name: REDACTED if is_credential_header(name) else redact_url(str(value))
        for name, value in headers.items()
    }


def scrub_headers_json(stored: str) -> str:
    """Stored headers (a JSON object) with their credentials redacted; anything that is
    not a JSON object of headers is replaced by an empty object rather than kept."""
    try:
        headers = json.loads(stored)
    except ValueError:
        return "{}"
    if not isinstance(headers, dict):
        return "{}"
    return json.dumps(redact_headers({str(k): str(v) for k, v in headers.items()}), sort_keys=True)
