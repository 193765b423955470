"""The one settings object. Nothing else in payflow reads os.environ.

Every setting is an environment variable prefixed ``PAYFLOW_`` (for example
``PAYFLOW_DATABASE_URL``). The defaults run the whole app offline: an SQLite file
and the sandbox providers mounted under ``/sandbox/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_STRIPE_SECRET_KEY = "sk_test_payflow_sandbox"
SANDBOX_STRIPE_WEBHOOK_SECRET = "whsec_payflow_sandbox"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYFLOW_", extra="ignore")

    environment: str = "development"
    database_url: str = f"sqlite:///{PROJECT_ROOT / '.data' / 'payflow.db'}"
    data_dir: Path = PROJECT_ROOT / ".data"
    # Where customers and providers reach the app (success/cancel URLs, webhooks).
    public_url: str = "http://localhost:3000"

    stripe_secret_key: str = SANDBOX_STRIPE_SECRET_KEY
    stripe_webhook_secret: str = SANDBOX_STRIPE_WEBHOOK_SECRET
    # None: the sandbox when the key is the sandbox key, real Stripe otherwise.
    stripe_api_base: str | None = None
    stripe_webhook_tolerance_seconds: int = 300
    checkout_session_lifetime_minutes: int = 30

    # The offline provider imitations; on unless real provider keys are configured.
    sandbox_enabled: bool | None = None
    sandbox_webhook_delay_seconds: float = 1.0
    sandbox_expiry_sweep_seconds: float = 5.0

    # PEM of the EC P-256 key that signs ticket QR tokens; generated into data_dir
    # on first use when unset (development and sandbox only).
    ticket_signing_key_pem: str | None = None

    # Several workers share live status through Redis (Reflex's own REFLEX_REDIS_URL).
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PAYFLOW_REDIS_URL", "REFLEX_REDIS_URL")
    )

    inbox_poll_seconds: float = 1.0
    inbox_max_attempts: int = 10
    max_tickets_per_order: int = 10

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _derive_and_refuse_placeholders(self) -> Settings:
        uses_sandbox_key = self.stripe_secret_key == SANDBOX_STRIPE_SECRET_KEY
        if self.sandbox_enabled is None:
            self.sandbox_enabled = uses_sandbox_key
        if self.stripe_api_base is None and uses_sandbox_key:
            self.stripe_api_base = f"{self.public_url}/sandbox/stripe"
        if self.environment == "production":
            if uses_sandbox_key or self.stripe_webhook_secret == SANDBOX_STRIPE_WEBHOOK_SECRET:
                raise ValueError("production needs real PAYFLOW_STRIPE_* keys")
            if self.sandbox_enabled:
                raise ValueError("the sandbox cannot be enabled in production")
            if not self.ticket_signing_key_pem:
                raise ValueError("production needs PAYFLOW_TICKET_SIGNING_KEY_PEM")
        return self

    @property
    def stripe_webhook_url(self) -> str:
        return f"{self.public_url}/api/webhooks/stripe"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests and tools that change it at run time)."""
    get_settings.cache_clear()
    return get_settings()
