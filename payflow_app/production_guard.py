"""What production refuses to start with. :func:`production_problems` lists every unsafe
setting at once, each naming the ``PAYFLOW_*`` variable and what is wrong with it, and
never its value (these messages end up in logs).

Refused in production:

- any rail on the sandbox's credentials, the sandbox mounted, or a provider API base
  that is not https;
- a weak secret: one of the sandbox's values, a placeholder (``changeme``, ``secret``,
  ``x`` …), too short, or low-entropy (a repeated pattern, a run like ``abcd…``, few
  distinct characters). Secrets payflow's operator chooses (session secret, PayHero
  callback token, UnivaPay webhook auth, metrics token, Stripe webhook secret) need
  :data:`OWN_SECRET_MIN` characters; passwords a provider issues :data:`ISSUED_SECRET_MIN`;
- Stripe test keys (anyone could pay with a test card) and a webhook tolerance that
  turns Stripe's replay protection off or stretches it;
- a ticket signing key that is missing or not an EC P-256 private key;
- a public URL that is not https, or is the machine itself;
- no SMTP host (tickets and passwords would never leave the built-in mailbox), or an
  SMTP password sent without TLS.

A new secret setting belongs in :func:`production_problems` too.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from payflow_app import settings as defaults

if TYPE_CHECKING:
    from payflow_app.settings import Settings

OWN_SECRET_MIN = 32
ISSUED_SECRET_MIN = 16
MAX_STRIPE_TOLERANCE_SECONDS = 600
PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "token",
        "test",
        "x",
        "xxx",
        "todo",
        "default",
    }
)
PLACEHOLDER_PARTS = ("sandbox", "changeme", "change-me", "change_me", "placeholder")
URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def secret_weakness(value: str | None, *, min_length: int, sandbox_values: frozenset[str]) -> str | None:
    """What is wrong with ``value`` as a secret, or None when it looks strong."""
    if not value or not value.strip():
        return "is not set"
    if value in sandbox_values:
        return "is the sandbox's value"
    lowered = value.lower()
    if lowered in PLACEHOLDERS or any(part in lowered for part in PLACEHOLDER_PARTS):
        return "is a placeholder"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if _low_entropy(value):
        return "is low-entropy (a repeated pattern, a run like abcd… or few distinct characters)"
    return None


def _low_entropy(value: str) -> bool:
    size = len(value)
    if len(set(value)) < 8:
        return True
    # A short unit repeated over the whole value (``abcabcabc…``).
    if any(value == (value[:k] * (size // k + 1))[:size] for k in range(1, size // 2 + 1)):
        return True
    # Mostly consecutive characters (``abcdef…``, ``987654…``).
    steps = [ord(b) - ord(a) for a, b in pairwise(value)]
    return sum(1 for step in steps if step in (1, -1)) * 2 > len(steps)


def _https_problem(name: str, url: str | None, *, reachable: bool = False) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"{name} must be an https:// URL"
    if reachable and parts.hostname in LOOPBACK_HOSTS:
        return f"{name} must be the address customers and providers reach, not this machine"
    return None


def _signing_key_problem(pem: str | None) -> str | None:
    if not pem:
        return "PAYFLOW_TICKET_SIGNING_KEY_PEM is not set (an EC P-256 private key in PEM)"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return "PAYFLOW_TICKET_SIGNING_KEY_PEM is not an unencrypted PEM private key"
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        return "PAYFLOW_TICKET_SIGNING_KEY_PEM must be an EC P-256 key (tickets are signed ES256)"
    return None


def production_problems(settings: Settings) -> list[str]:
    """Every reason ``settings`` are unsafe for production; empty when they are fine."""
    sandbox_values = _sandbox_values()
    return [
        *_stripe_problems(settings, sandbox_values),
        *_univapay_problems(settings, sandbox_values),
        *_payhero_problems(settings, sandbox_values),
        *_own_secret_problems(settings, sandbox_values),
        *_address_problems(settings),
        *_email_problems(settings),
    ]


def _sandbox_values() -> frozenset[str]:
    """Every secret the sandbox ships with: none of them may guard production."""
    return frozenset(
        {
            defaults.SANDBOX_STRIPE_SECRET_KEY,
            defaults.SANDBOX_STRIPE_WEBHOOK_SECRET,
            defaults.SANDBOX_UNIVAPAY_JWT,
            defaults.SANDBOX_UNIVAPAY_SECRET,
            defaults.SANDBOX_UNIVAPAY_WEBHOOK_AUTH,
            defaults.SANDBOX_UNIVAPAY_WEBHOOK_AUTH.removeprefix("Bearer "),
            defaults.SANDBOX_PAYHERO_PASSWORD,
            defaults.SANDBOX_PAYHERO_CALLBACK_TOKEN,
        }
    )


def _weak(name: str, value: str | None, min_length: int, sandbox_values: frozenset[str]) -> Iterator[str]:
    if (what := secret_weakness(value, min_length=min_length, sandbox_values=sandbox_values)) is not None:
        yield f"{name} {what}"


def _stripe_problems(settings: Settings, sandbox_values: frozenset[str]) -> Iterator[str]:
    stripe_key = settings.stripe_secret_key
    if stripe_key == defaults.SANDBOX_STRIPE_SECRET_KEY:
        yield "PAYFLOW_STRIPE_SECRET_KEY is the sandbox's value"
    elif not stripe_key.startswith(("sk_live_", "rk_live_")):
        yield "PAYFLOW_STRIPE_SECRET_KEY must be a live key (sk_live_… or rk_live_…)"
    else:
        yield from _weak("PAYFLOW_STRIPE_SECRET_KEY", stripe_key, OWN_SECRET_MIN, sandbox_values)
    if settings.stripe_webhook_secret != defaults.SANDBOX_STRIPE_WEBHOOK_SECRET and not (
        settings.stripe_webhook_secret.startswith("whsec_")
    ):
        yield "PAYFLOW_STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret (whsec_…)"
    else:
        yield from _weak(
            "PAYFLOW_STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret, OWN_SECRET_MIN, sandbox_values
        )
    if not 0 < settings.stripe_webhook_tolerance_seconds <= MAX_STRIPE_TOLERANCE_SECONDS:
        yield (
            f"PAYFLOW_STRIPE_WEBHOOK_TOLERANCE_SECONDS must be between 1 and {MAX_STRIPE_TOLERANCE_SECONDS}"
            " (0 turns off Stripe's replay protection)"
        )


def _univapay_problems(settings: Settings, sandbox_values: frozenset[str]) -> Iterator[str]:
    if settings.univapay_app_token == defaults.SANDBOX_UNIVAPAY_JWT:
        yield "PAYFLOW_UNIVAPAY_APP_TOKEN is the sandbox's value"
    elif settings.univapay_app_token.count(".") != 2:
        yield "PAYFLOW_UNIVAPAY_APP_TOKEN must be the store's app token (a JWT)"
    if settings.univapay_store_id == defaults.SANDBOX_UNIVAPAY_STORE_ID:
        yield "PAYFLOW_UNIVAPAY_STORE_ID is the sandbox's value"
    yield from _weak("PAYFLOW_UNIVAPAY_SECRET", settings.univapay_secret, ISSUED_SECRET_MIN, sandbox_values)
    scheme, _, credential = settings.univapay_webhook_auth.partition(" ")
    yield from _weak(
        "PAYFLOW_UNIVAPAY_WEBHOOK_AUTH",
        credential if scheme.lower() == "bearer" else settings.univapay_webhook_auth,
        OWN_SECRET_MIN,
        sandbox_values,
    )


def _payhero_problems(settings: Settings, sandbox_values: frozenset[str]) -> Iterator[str]:
    if settings.payhero_username == defaults.SANDBOX_PAYHERO_USERNAME or not settings.payhero_username:
        yield "PAYFLOW_PAYHERO_USERNAME is not set to the real API user"
    yield from _weak("PAYFLOW_PAYHERO_PASSWORD", settings.payhero_password, ISSUED_SECRET_MIN, sandbox_values)
    token = settings.payhero_callback_token
    yield from _weak("PAYFLOW_PAYHERO_CALLBACK_TOKEN", token, OWN_SECRET_MIN, sandbox_values)
    if token and not set(token) <= URL_SAFE:
        yield "PAYFLOW_PAYHERO_CALLBACK_TOKEN must be URL-safe (letters, digits, - _ . ~)"


def _own_secret_problems(settings: Settings, sandbox_values: frozenset[str]) -> Iterator[str]:
    """payflow's own secrets."""
    yield from _weak("PAYFLOW_SESSION_SECRET", settings.session_secret, OWN_SECRET_MIN, sandbox_values)
    if settings.metrics_token is not None:
        yield from _weak("PAYFLOW_METRICS_TOKEN", settings.metrics_token, OWN_SECRET_MIN, sandbox_values)
    if (problem := _signing_key_problem(settings.ticket_signing_key_pem)) is not None:
        yield problem


def _address_problems(settings: Settings) -> Iterator[str]:
    """Where payflow and the providers are reached."""
    if settings.sandbox_enabled:
        yield "PAYFLOW_SANDBOX_ENABLED is on: the sandbox (fake payments at /sandbox/) cannot be mounted"
    urls = (
        _https_problem("PAYFLOW_PUBLIC_URL", settings.public_url, reachable=True),
        _https_problem("PAYFLOW_STRIPE_API_BASE", settings.stripe_api_base),
        _https_problem("PAYFLOW_UNIVAPAY_API_BASE", settings.univapay_api_base),
        _https_problem("PAYFLOW_PAYHERO_API_BASE", settings.payhero_api_base),
        _https_problem("PAYFLOW_UNIVAPAY_WIDGET_SCRIPT", settings.univapay_widget_script),
    )
    yield from (problem for problem in urls if problem is not None)


def _email_problems(settings: Settings) -> Iterator[str]:
    if not settings.smtp_host:
        yield "PAYFLOW_SMTP_HOST is not set (tickets and passwords would stay in the built-in mailbox)"
    elif settings.smtp_password and not (settings.smtp_starttls or settings.smtp_ssl):
        yield "PAYFLOW_SMTP_PASSWORD is sent without TLS: set PAYFLOW_SMTP_STARTTLS or PAYFLOW_SMTP_SSL"
