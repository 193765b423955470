"""What protects every answer payflow gives a browser: cross-site request refusal and
the security headers. ``protect_backend`` wraps the whole backend — API routes, the
sandbox, Reflex's websocket and the built frontend — in the real app
(``payflow_app.payflow_app``) and in the integration tests' server alike.

Cross-site requests. A request that changes something (POST, PUT, PATCH, DELETE) and
every websocket handshake is refused with 403 ``cross_site_request``, before any route
runs, unless:

1. its path is one that no browser session authenticates: the providers' callbacks
   (``/api/webhooks/stripe``, ``POST /api/payment/callback``, ``/api/payhero/callback``,
   which carry a signature or a secret) and the gate devices' routes (``/api/checkin…``,
   bearer tokens) — exempt, whoever sends them;
2. its ``Origin`` is one of ``Settings.browser_origins`` (``null`` is nobody's);
3. without ``Origin``, its ``Referer`` is on one of them;
4. with neither, it carries no session cookie: a server or a script, which has no
   user's cookie to abuse. Every current browser sends ``Origin`` on such requests, so
   a cookie without it is refused rather than trusted.

CORS (``Access-Control-Allow-Origin``) is answered for the same origins only: Reflex
adds it from ``rx.Config.cors_allowed_origins`` (set in ``rxconfig.py``, also given to
the socket.io server), and ``cors_middleware`` adds the same to the integration server.

Headers. Every HTTP answer carries the Content-Security-Policy of
``content_security_policy`` (nothing from other hosts; the built pages' inline scripts
by hash), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: strict-origin-when-cross-origin`` (success URLs carry session ids),
a Permissions-Policy that lets only our own pages use the camera (the gate), and HSTS
when the public URL is https. A route that sets one of them itself keeps its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payflow_app.api.auth import SESSION_COOKIE
from payflow_app.settings import SANDBOX_UNIVAPAY_JWT, Settings, get_settings, web_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Authenticated by a signature, a secret in the URL or a bearer token, never a cookie.
PROVIDER_CALLBACKS = frozenset({"/api/webhooks/stripe", "/api/payment/callback", "/api/payhero/callback"})
DEVICE_PREFIX = "/api/checkin"
# The UnivaPay sandbox's widget posts its token back by itself (``onload``): the one
# inline event handler payflow serves, allowed by its hash while the sandbox is on.
SANDBOX_INLINE_HANDLERS = ("document.forms[0].submit()",)
PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"


def protect_backend(app: ASGIApp) -> ASGIApp:
    """The backend as browsers must meet it: cross-site refusals inside the headers,
    so a refusal carries them too."""
    settings = get_settings()
    return SecurityHeaders(CrossSiteGuard(app, settings=settings), settings=settings)


def cors_middleware(app: ASGIApp) -> ASGIApp:
    """CORS as Reflex adds it to the real app (``App._add_cors``), for our origins."""
    return CORSMiddleware(
        app,
        allow_origins=get_settings().browser_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )


def cross_site_refusal(
    method: str, path: str, headers: Headers, allowed_origins: Iterable[str]
) -> str | None:
    """Why this request is refused as cross-site (the rule in the module docstring),
    or None when it may go on."""
    if method in SAFE_METHODS or _exempt(method, path):
        return None
    allowed = set(allowed_origins)
    origin = headers.get("origin")
    if origin is not None:
        return None if _origin_of(origin) in allowed else "This request comes from another site."
    referer = headers.get("referer")
    if referer:
        return None if _origin_of(referer) in allowed else "This request comes from another site."
    if SESSION_COOKIE in _cookie_names(headers):
        return "A signed-in request must say which site sent it (Origin)."
    return None


class CrossSiteGuard:
    """Refuses cross-site state-changing requests and websocket handshakes (pure ASGI,
    so streaming answers and the websocket pass untouched)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.allowed_origins = frozenset(settings.browser_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # A websocket carries events that act for the user: it counts as a POST.
        method = scope.get("method", "POST") if scope["type"] == "http" else "POST"
        reason = cross_site_refusal(method, scope["path"], Headers(scope=scope), self.allowed_origins)
        if reason is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
        else:
            await _refuse(send, reason)


class SecurityHeaders:
    """Adds the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, settings: Settings, frontend_dir: Path | None = None) -> None:
        self.app = app
        self.settings = settings
        self.frontend_dir = frontend_dir
        self._complete_headers: list[tuple[str, str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self._headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                for name, value in headers:
                    answer.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self) -> list[tuple[str, str]]:
        if self._complete_headers is not None:
            return self._complete_headers
        # The frontend may be built after the backend starts: hash its pages once there.
        script_hashes = inline_script_hashes(self.frontend_dir or _reflex_build_dir())
        policy = content_security_policy(
            script_hashes=script_hashes,
            allowed_origins=self.settings.browser_origins,
            inline_handlers=SANDBOX_INLINE_HANDLERS if self.settings.sandbox_enabled else (),
            univapay_widget_script=_real_univapay_widget(self.settings),
        )
        headers = [
            ("content-security-policy", policy),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("permissions-policy", PERMISSIONS_POLICY),
        ]
        if self.settings.public_url.startswith("https://"):
            headers.append(("strict-transport-security", "max-age=31536000"))
        if script_hashes:
            self._complete_headers = headers
        return headers


def content_security_policy(
    *,
    script_hashes: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
    inline_handlers: Iterable[str] = (),
    univapay_widget_script: str | None = None,
) -> str:
    """The policy for payflow's pages: scripts, styles, images, fonts and connections
    from our own origin only.

    - ``script_hashes``: the built pages' inline scripts (``'sha256-…'``), the only
      inline code allowed; ``inline_handlers`` are event-handler attributes allowed by
      their hash too (``'unsafe-hashes'``).
    - ``'unsafe-eval'``: Reflex runs the scripts an event handler sends
      (``rx.call_script``: the pages leave for the provider with it) through ``eval``.
    - ``'wasm-unsafe-eval'``: the gate's QR decoder (ZXing) is WebAssembly.
    - styles ``'unsafe-inline'``: Radix and emotion write ``<style>`` elements and style
      attributes at run time; a style cannot run code.
    - images ``data:``/``blob:``: QR codes and previews are built in the page.
    - ``connect-src``: the websocket of each allowed origin (``'self'`` covers it in
      current browsers, not in all).
    - ``univapay_widget_script``: UnivaPay's own widget (only with a real UnivaPay
      token): its script and frame, and forms may then lead to an issuer's 3-D Secure
      page (``https:``).
    """
    scripts = ["'self'", "'unsafe-eval'", "'wasm-unsafe-eval'"]
    scripts += [f"'{digest}'" for digest in sorted(set(script_hashes))]
    handlers = sorted({_sha256(code) for code in inline_handlers})
    if handlers:
        scripts += ["'unsafe-hashes'", *(f"'{digest}'" for digest in handlers)]
    sockets = [
        origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        for origin in dict.fromkeys(allowed_origins)
    ]
    frames = ["'self'"]
    forms = ["'self'"]
    if univapay_widget_script:
        widget = web_origin(univapay_widget_script)
        scripts.append(widget)
        frames.append(widget)
        forms.append("https:")
    directives = [
        ("default-src", ["'self'"]),
        ("script-src", scripts),
        ("style-src", ["'self'", "'unsafe-inline'"]),
        ("img-src", ["'self'", "data:", "blob:"]),
        ("font-src", ["'self'", "data:"]),
        ("connect-src", ["'self'", *sockets]),
        ("media-src", ["'self'", "blob:"]),
        ("worker-src", ["'self'", "blob:"]),
        ("frame-src", frames),
        ("object-src", ["'none'"]),
        ("base-uri", ["'self'"]),
        ("form-action", forms),
        ("frame-ancestors", ["'none'"]),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


def inline_script_hashes(directory: Path) -> tuple[str, ...]:
    """``sha256-…`` of every inline ``<script>`` in the built pages under ``directory``
    (React Router's prerendered HTML: the theme script, the router's context)."""
    found: set[str] = set()
    for page in sorted(directory.rglob("*.html")) if directory.is_dir() else ():
        parser = _InlineScripts()
        parser.feed(page.read_text(encoding="utf-8"))
        parser.close()
        found.update(_sha256(script) for script in parser.scripts)
    return tuple(sorted(found))


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def _sha256(code: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")


def _reflex_build_dir() -> Path:
    from reflex.utils import prerequisites
    from reflex_base import constants

    return prerequisites.get_web_dir() / constants.Dirs.STATIC


def _real_univapay_widget(settings: Settings) -> str | None:
    return None if settings.univapay_app_token == SANDBOX_UNIVAPAY_JWT else settings.univapay_widget_script


def _exempt(method: str, path: str) -> bool:
    return (path in PROVIDER_CALLBACKS and method == "POST") or path.startswith(DEVICE_PREFIX)


def _origin_of(value: str) -> str | None:
    try:
        return web_origin(value.strip())
    except ValueError:
        return None  # "null", or not a URL: nobody's origin


def _cookie_names(headers: Headers) -> set[str]:
    names = set()
    for header in headers.getlist("cookie"):
        for pair in header.split(";"):
            names.add(pair.split("=", 1)[0].strip())
    return names


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": {"code": "cross_site_request", "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
