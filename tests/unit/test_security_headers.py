"""The Content-Security-Policy builder, the built pages' script hashes, and the
cross-site rule for websocket handshakes (the integration server has no websocket:
these call the ASGI middleware directly)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path

import pytest
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from payflow_app.api.security import (
    CrossSiteGuard,
    content_security_policy,
    cross_site_refusal,
    inline_script_hashes,
)
from payflow_app.settings import Settings

OURS = "https://pay.example.com"


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in policy.split("; "))}


def test_the_policy_loads_nothing_from_other_hosts() -> None:
    policy = _directives(
        content_security_policy(
            script_hashes=["sha256-abc=", "sha256-abc="], allowed_origins=[OURS, "http://localhost:3000"]
        )
    )
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "'unsafe-eval'", "'wasm-unsafe-eval'", "'sha256-abc='"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["connect-src"] == ["'self'", "wss://pay.example.com", "ws://localhost:3000"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["form-action"] == ["'self'"] and policy["frame-src"] == ["'self'"]
    every_source = [source for sources in policy.values() for source in sources]
    assert not [s for s in every_source if s.startswith("http") or s in ("*", "https:", "'unsafe-hashes'")]


def test_an_inline_handler_is_allowed_by_its_hash_only() -> None:
    policy = _directives(content_security_policy(inline_handlers=["document.forms[0].submit()"]))
    digest = base64.b64encode(hashlib.sha256(b"document.forms[0].submit()").digest()).decode()
    assert policy["script-src"][-2:] == ["'unsafe-hashes'", f"'sha256-{digest}'"]
    assert "'unsafe-inline'" not in policy["script-src"]


def test_the_real_univapay_widget_adds_its_own_host_only() -> None:
    policy = _directives(
        content_security_policy(univapay_widget_script="https://widget.univapay.com/client/checkout.js")
    )
    assert "https://widget.univapay.com" in policy["script-src"]
    assert policy["frame-src"] == ["'self'", "https://widget.univapay.com"]
    assert policy["form-action"] == ["'self'", "https:"]  # on to the issuer's 3-D Secure page
    assert policy["connect-src"] == ["'self'"]


def test_the_built_pages_inline_scripts_are_hashed(tmp_path: Path) -> None:
    theme = "\nif (typeof document !== 'undefined') { document.documentElement.classList.add('light'); }\n"
    (tmp_path / "login").mkdir()
    (tmp_path / "index.html").write_text(
        f'<html><head><script>{theme}</script><script src="/assets/app.js"></script></head>'
        '<body><script type="module">import("/assets/entry.js");</script></body></html>'
    )
    (tmp_path / "login" / "index.html").write_text(f"<html><head><script>{theme}</script></head></html>")
    expected = {
        "sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        for code in (theme, 'import("/assets/entry.js");')
    }
    assert set(inline_script_hashes(tmp_path)) == expected
    assert inline_script_hashes(tmp_path / "missing") == ()


def _handshake(origin: str | None, cookie: str | None = "payflow_session=t") -> list[Message]:
    """What a websocket handshake to /_event with these headers is answered."""
    reached: list[Scope] = []

    async def backend(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)
        await send({"type": "websocket.accept"})

    guard = CrossSiteGuard(backend, settings=Settings(public_url=OURS))
    headers = [(b"host", b"pay.example.com")]
    headers += [(b"origin", origin.encode())] if origin else []
    headers += [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "websocket", "path": "/_event/", "headers": headers}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    assert bool(reached) == (sent == [{"type": "websocket.accept"}])
    return sent


@pytest.mark.parametrize(
    ("origin", "cookie", "accepted"),
    [
        (OURS, "payflow_session=t", True),
        ("https://evil.example", "payflow_session=t", False),  # cross-site websocket hijacking
        ("https://evil.example", None, False),
        ("null", "payflow_session=t", False),
        (None, "payflow_session=t", False),  # a cookie without its site
        (None, None, True),  # a script without anyone's cookie
    ],
)
def test_the_websocket_opens_only_for_our_pages(
    origin: str | None, cookie: str | None, accepted: bool
) -> None:
    sent = _handshake(origin, cookie)
    if accepted:
        assert sent == [{"type": "websocket.accept"}]
    else:
        assert sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008


def test_allowed_origins_are_read_as_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_ALLOWED_ORIGINS", " https://Shop.Example.com:443/ , http://localhost:8080")
    settings = Settings(public_url="https://pay.example.com/")
    assert settings.browser_origins == [
        "https://pay.example.com",
        "https://shop.example.com",
        "http://localhost:8080",
    ]
    for wrong in ("*", "shop.example.com", "ftp://shop.example.com"):
        monkeypatch.setenv("PAYFLOW_ALLOWED_ORIGINS", wrong)
        with pytest.raises(ValueError):
            Settings()


@pytest.mark.parametrize(
    ("method", "path", "headers", "refused"),
    [
        (
            "GET",
            "/api/orders/x/status",
            {"origin": "https://evil.example", "cookie": "payflow_session=t"},
            False,
        ),
        ("POST", "/api/webhooks/stripe", {"origin": "https://evil.example"}, False),  # signed, not a cookie
        ("POST", "/api/payment/callback", {"origin": "null", "cookie": "payflow_session=t"}, False),
        ("POST", "/api/payhero/callback", {"referer": "https://evil.example/"}, False),
        ("POST", "/api/checkin/offline", {"origin": "https://evil.example"}, False),  # bearer device token
        (
            "POST",
            "/api/webhooks/stripe/",
            {"origin": "https://evil.example"},
            True,
        ),  # not the callback's path
        ("DELETE", "/pay", {"cookie": "lang=pl; payflow_session=t"}, True),
        ("PATCH", "/pay", {"cookie": "payflow_lang=pl"}, False),  # nobody's session
        ("POST", "/pay", {"referer": f"{OURS}/events?x=1", "cookie": "payflow_session=t"}, False),
        ("POST", "/pay", {"origin": OURS, "referer": "https://evil.example/"}, False),  # Origin decides
        ("POST", "/pay", {"origin": "HTTPS://PAY.EXAMPLE.COM:443"}, False),
        ("POST", "/pay", {"origin": "https://pay.example.com:8443"}, True),
        ("POST", "/pay", {"origin": "http://pay.example.com"}, True),  # another scheme is another site
        ("PUT", "/pay", {"referer": "not a url", "cookie": "payflow_session=t"}, True),
    ],
)
def test_the_cross_site_rule(method: str, path: str, headers: dict[str, str], refused: bool) -> None:
    reason = cross_site_refusal(method, path, Headers(headers), [OURS])
    assert (reason is not None) == refused, reason
