"""The one settings object. Nothing else in payflow reads os.environ.

Every setting is an environment variable prefixed ``PAYFLOW_`` (for example
``PAYFLOW_DATABASE_URL``). The defaults run the whole app offline: an SQLite file
and the sandbox providers mounted under ``/sandbox/``.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_STRIPE_SECRET_KEY = "sk_test_payflow_sandbox"
SANDBOX_STRIPE_WEBHOOK_SECRET = "whsec_payflow_sandbox"
# The sandbox's UnivaPay store and app token (a JWT of three dot-separated parts).
SANDBOX_UNIVAPAY_STORE_ID = "11ef0000-0000-0000-0000-5a4db0c57013"
SANDBOX_UNIVAPAY_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzYW5kYm94Ijp0cnVlfQ.cGF5Zmxvdy1zYW5kYm94"
SANDBOX_UNIVAPAY_SECRET = "payflow-sandbox-secret"
SANDBOX_UNIVAPAY_WEBHOOK_AUTH = "Bearer payflow-sandbox-webhook"
SANDBOX_PAYHERO_USERNAME = "payflow-sandbox"
SANDBOX_PAYHERO_PASSWORD = "payflow-sandbox-password"
SANDBOX_PAYHERO_CALLBACK_TOKEN = "payflow-sandbox-callback"


class Environment(StrEnum):
    """Where payflow runs. Only these exact values start it: ``Production``, ``prod`` or
    ``"production "`` would otherwise have started with the sandbox."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    # Errors name the setting, never echo its value: secrets end up in logs otherwise.
    model_config = SettingsConfigDict(env_prefix="PAYFLOW_", extra="ignore", hide_input_in_errors=True)

    # production refuses unsafe settings at start (``payflow_app.production_guard``).
    environment: Environment = Environment.DEVELOPMENT
    database_url: str = f"sqlite:///{PROJECT_ROOT / '.data' / 'payflow.db'}"
    data_dir: Path = PROJECT_ROOT / ".data"
    # The port `make run` serves the app on (``make run PORT=8080`` passes it as
    # PAYFLOW_PORT); only the default public_url below uses it.
    port: int = Field(default=3000, ge=1, le=65535)
    # Where customers and providers reach the app (success/cancel URLs, webhooks);
    # unset: ``http://localhost:{port}``, so an instance on another port sends its
    # checkout sessions and sandbox webhooks to itself.
    public_url: str = ""
    _public_url_given: bool = PrivateAttr(default=False)
    # Other origins whose pages may call the API and open the websocket with the
    # user's cookie (comma-separated, e.g. "https://pay.example.com"); public_url's own
    # origin is always allowed.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    stripe_secret_key: str = SANDBOX_STRIPE_SECRET_KEY
    stripe_webhook_secret: str = SANDBOX_STRIPE_WEBHOOK_SECRET
    # None: the sandbox when the key is the sandbox key, real Stripe otherwise.
    stripe_api_base: str | None = None
    stripe_webhook_tolerance_seconds: int = 300
    checkout_session_lifetime_minutes: int = 30

    # UnivaPay (cards with 3-D Secure, memberships). Server calls authenticate with
    # ``Bearer {secret}.{app_token}``; webhooks carry ``univapay_webhook_auth`` verbatim.
    univapay_app_token: str = SANDBOX_UNIVAPAY_JWT
    univapay_secret: str = SANDBOX_UNIVAPAY_SECRET
    univapay_store_id: str = SANDBOX_UNIVAPAY_STORE_ID
    univapay_webhook_auth: str = SANDBOX_UNIVAPAY_WEBHOOK_AUTH
    # None: the sandbox when the token is the sandbox token, api.univapay.com otherwise.
    univapay_api_base: str | None = None
    univapay_widget_script: str = "https://widget.univapay.com/client/checkout.js"

    # PayHero (M-PESA STK push, KES). Basic auth; callbacks come back to
    # /api/payhero/callback?token=… (PayHero signs nothing, so the URL carries a secret).
    payhero_username: str = SANDBOX_PAYHERO_USERNAME
    payhero_password: str = SANDBOX_PAYHERO_PASSWORD
    payhero_channel_id: int = 911
    payhero_callback_token: str = SANDBOX_PAYHERO_CALLBACK_TOKEN
    # None: the sandbox when the username is the sandbox one, PayHero otherwise.
    payhero_api_base: str | None = None
    # The M-PESA waiting page says the confirmation is delayed after this long.
    mpesa_delayed_after_seconds: float = 180.0

    # The reconciler asks the provider about every payment still pending on a
    # backing-off schedule (first after this many seconds, doubling, capped). After
    # the last attempt a payment still without a final answer is flagged for a person
    # (one whose provider closes it by itself, a Checkout Session, is expired instead).
    pending_sync_first_seconds: float = 20.0
    pending_sync_max_seconds: float = 300.0
    pending_sync_poll_seconds: float = 2.0
    pending_sync_max_attempts: int = 40
    # Off: no background sync and no reconciler; webhooks and landings still settle.
    background_sync_enabled: bool = True
    # A card payment whose card never arrived (the widget tab closed) expires then.
    uncharged_payment_lifetime_minutes: int = 60

    # The offline provider imitations; on unless real provider keys are configured.
    sandbox_enabled: bool | None = None
    sandbox_webhook_delay_seconds: float = 1.0
    sandbox_expiry_sweep_seconds: float = 5.0
    # PayHero sandbox: the PIN that pays (any other PIN answers 2001, wrong PIN);
    # an STK prompt nobody answers ends with 1037 after this many seconds; and a
    # switch that keeps callbacks from being sent (the status query still answers).
    sandbox_mpesa_pin: str = "1234"
    sandbox_mpesa_prompt_timeout_seconds: float = 60.0
    sandbox_payhero_withhold_callbacks: bool = False

    # PEM of the EC P-256 key that signs ticket QR tokens; generated into data_dir
    # on first use when unset (development and sandbox only).
    ticket_signing_key_pem: str | None = None
    # A ticket admits nobody this long after its event starts (its QR token's ``exp``).
    ticket_valid_hours_after_start: float = Field(default=24.0, ge=0, le=24 * 366)

    # Several workers share live status through Redis (Reflex's own REFLEX_REDIS_URL).
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PAYFLOW_REDIS_URL", "REFLEX_REDIS_URL")
    )

    # Sessions are kept server-side (``services.accounts.sessions``); the cookie holds a random
    # token. A session ends after this many idle minutes, and at the latest this many
    # hours after the login. The secret keys what is derived from it (the membership
    # reveal); generated into data_dir on first use when unset (development only).
    session_secret: str | None = None
    session_lifetime_hours: int = Field(default=24 * 7, ge=1)
    session_idle_minutes: int = Field(default=120, ge=1)
    # Guest checkouts (they create accounts, hold seats, push M-PESA prompts) allowed
    # per client address and per email in an hour (``services.accounts.throttle``). Behind a
    # reverse proxy the address must be the client's (Reflex ``trusted_proxy_hops``,
    # the server's forwarded-headers option), or every customer shares the proxy's.
    checkouts_per_address_per_hour: int = Field(default=20, ge=1)
    checkouts_per_email_per_hour: int = Field(default=10, ge=1)

    # Email: SMTP when a host is set, else the built-in mailbox (/sandbox/mailbox).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    # Each SMTP step's timeout; a whole conversation is cut after 6 of them, and the
    # lease on a message being sent (how long a killed sender holds it) is that + 45 s.
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "payflow <no-reply@payflow.test>"
    email_poll_seconds: float = 1.0
    email_max_attempts: int = 8

    # The processing page says the confirmation is delayed after this long.
    payment_delayed_after_seconds: float = 120.0

    inbox_poll_seconds: float = 1.0
    # A webhook whose processing fails is retried: first after this, doubling with
    # jitter up to the cap, for this long after it arrived; then it is dead-lettered.
    inbox_retry_first_seconds: float = 5.0
    inbox_retry_max_seconds: float = 600.0
    inbox_retry_for_seconds: float = 24 * 3600.0
    # A worker's claim on an event; a worker killed mid-way loses it after this long.
    inbox_lease_seconds: float = 60.0
    # The inbox worker's status query to a provider gives up after this long (the event
    # is retried with backoff): one slow provider does not hold every other rail's events.
    worker_status_timeout_seconds: float = Field(default=5.0, gt=0)
    # Events of one provider the inbox worker processes at once (per process); each
    # provider has its own, so a failing or slow one never delays another rail.
    inbox_concurrency_per_provider: int = Field(default=4, ge=1, le=64)

    # A Prometheus scraper sends it as a bearer token (operators' sessions work too).
    metrics_token: str | None = None
    # Operator alerts (the console and /metrics).
    alert_webhook_silence_minutes: float = 15.0
    alert_sync_failure_rate: float = 0.05
    alert_processing_delay_minutes: float = 10.0
    max_tickets_per_order: int = 10

    # Request bodies: larger ones answer 413 before they are read whole. Providers'
    # events are a few KiB; a Checkout Session with many line items stays far below 1 MiB.
    max_body_bytes: int = 256 * 1024  # JSON APIs
    max_webhook_body_bytes: int = 1024 * 1024
    # A refused (unverified) webhook is kept for operators: its first bytes, its size
    # and SHA-256; at most this many per client address and window (the rest are counted).
    rejected_body_keep_bytes: int = 4096
    rejections_per_source: int = 50
    rejection_window_seconds: float = 3600.0

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: object) -> object:
        allowed = [e.value for e in Environment]
        if value not in allowed:
            raise ValueError(
                f"PAYFLOW_ENVIRONMENT must be exactly one of {', '.join(allowed)} (got {value!r})"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _read_origins(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            return items
        return [web_origin(str(item).strip()) for item in items if str(item).strip()]

    @model_validator(mode="after")
    def _derive_and_refuse_placeholders(self) -> Settings:
        self._public_url_given = bool(self.public_url)
        if not self.public_url:
            self.public_url = f"http://localhost:{self.port}"
        uses_sandbox_key = self.stripe_secret_key == SANDBOX_STRIPE_SECRET_KEY
        if self.sandbox_enabled is None:  # on while any rail still uses the sandbox's credentials
            self.sandbox_enabled = (
                uses_sandbox_key
                or self.univapay_app_token == SANDBOX_UNIVAPAY_JWT
                or self.payhero_username == SANDBOX_PAYHERO_USERNAME
            )
        if self.stripe_api_base is None and uses_sandbox_key:
            self.stripe_api_base = f"{self.public_url}/sandbox/stripe"
        if self.univapay_api_base is None:
            sandboxed = self.univapay_app_token == SANDBOX_UNIVAPAY_JWT
            self.univapay_api_base = (
                f"{self.public_url}/sandbox/univapay" if sandboxed else "https://api.univapay.com"
            )
        if self.payhero_api_base is None:
            sandboxed = self.payhero_username == SANDBOX_PAYHERO_USERNAME
            self.payhero_api_base = (
                f"{self.public_url}/sandbox/payhero/api/v2"
                if sandboxed
                else "https://backend.payhero.co.ke/api/v2"
            )
        if self.environment is Environment.PRODUCTION:
            from payflow_app.production_guard import production_problems

            if problems := production_problems(self):
                raise ValueError("unsafe for production:\n  - " + "\n  - ".join(problems))
        return self

    @property
    def browser_origins(self) -> list[str]:
        """The origins whose pages may send the user's cookies to payflow (CORS, the
        websocket, state-changing requests): public_url's and ``allowed_origins``."""
        own = web_origin(self.public_url)
        return [own, *(origin for origin in self.allowed_origins if origin != own)]

    @property
    def frontend_api_url(self) -> str | None:
        """Where the built pages open their websocket (Reflex's ``api_url``): the public
        URL's origin when one is set, so a tab behind a reverse proxy in front of several
        hosts connects through the proxy; None (Reflex's default, the backend's own
        port) when the public URL is only derived from the port."""
        return web_origin(self.public_url) if self._public_url_given else None

    @property
    def stripe_webhook_url(self) -> str:
        return f"{self.public_url}/api/webhooks/stripe"

    @property
    def univapay_webhook_url(self) -> str:
        return f"{self.public_url}/api/payment/callback"

    @property
    def payhero_callback_url(self) -> str:
        return f"{self.public_url}/api/payhero/callback?token={self.payhero_callback_token}"


def web_origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL as browsers send it in ``Origin``
    (lower case, default port left out); ValueError for anything else."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port  # ValueError when it is not a port number
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default_port) else f"{scheme}://{host}:{port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests and tools that change it at run time)."""
    get_settings.cache_clear()
    return get_settings()
