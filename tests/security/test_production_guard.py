"""payflow refuses to start in production with anything unsafe: an environment name it
does not know exactly, a rail on the sandbox, a weak or placeholder secret, plain http,
the sandbox mounted. Each unsafe configuration below is one change to a safe one; the
error names the setting and never prints a secret."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from payflow_app.settings import (
    SANDBOX_PAYHERO_CALLBACK_TOKEN,
    SANDBOX_PAYHERO_PASSWORD,
    SANDBOX_PAYHERO_USERNAME,
    SANDBOX_STRIPE_SECRET_KEY,
    SANDBOX_STRIPE_WEBHOOK_SECRET,
    SANDBOX_UNIVAPAY_JWT,
    SANDBOX_UNIVAPAY_SECRET,
    SANDBOX_UNIVAPAY_STORE_ID,
    SANDBOX_UNIVAPAY_WEBHOOK_AUTH,
    Environment,
    Settings,
)


def _pem(curve: ec.EllipticCurve) -> str:
    return (
        ec.generate_private_key(curve)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


SIGNING_KEY = _pem(ec.SECP256R1())

# Values shaped like the real ones (random, generated once).
SAFE: dict[str, str] = {
    "ENVIRONMENT": "production",
    "PUBLIC_URL": "https://tickets.example.com",
    "STRIPE_SECRET_KEY": "sk_live_VhLNRE9uTTTKnkGdadGGwP_5Ctlm189YwtQs48LTVAQ",
    "STRIPE_WEBHOOK_SECRET": "whsec_LDlBmScy9gWBKYB5HtyuWEPMU6WvRsGTgfwF4aOOvwA",
    "UNIVAPAY_APP_TOKEN": "eyJhbGciOiJIUzI1NiJ9.eyJzdG9yZSI6InJlYWwifQ.h5CM6l0AKNfT8yWA4Dbtqw",
    "UNIVAPAY_SECRET": "h5CM6l0AKNfT8yWA4Dbtqw",
    "UNIVAPAY_STORE_ID": "11ef7a3c-55d2-4b7e-9f0a-2c1d8e6b4a90",
    "UNIVAPAY_WEBHOOK_AUTH": "Bearer uwZrGIi49ThnJx4yPOpVs-JFzU9gFz-qWM5mFyhOZtQ",
    "PAYHERO_USERNAME": "payflow-live-api",
    "PAYHERO_PASSWORD": "4utuISh7W7MZUHc7BpDdlCEcH5e5qipc",
    "PAYHERO_CALLBACK_TOKEN": "1CEpuyF5z7X2hzs47K0fhcSauLPpxbGmVYGnaIoJ2Ns",
    "SESSION_SECRET": "53XUJRY-p73HpBmrWLELydlnv9wTDGHNMKlxMNz2uA1fNK8A8iqI3IHJawPLfivW",
    "METRICS_TOKEN": "AKx_DStKmbZpeGq6ndRVKHLCkskN3txF0j0fyuQw3ck",
    "TICKET_SIGNING_KEY_PEM": SIGNING_KEY,
    "SMTP_HOST": "smtp.example.com",
    "SMTP_USERNAME": "payflow",
    "SMTP_PASSWORD": "a-provider-issued-smtp-password",
    "SMTP_STARTTLS": "true",
}
SECRETS = {
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "UNIVAPAY_SECRET",
    "UNIVAPAY_WEBHOOK_AUTH",
    "PAYHERO_PASSWORD",
    "PAYHERO_CALLBACK_TOKEN",
    "SESSION_SECRET",
    "METRICS_TOKEN",
    "TICKET_SIGNING_KEY_PEM",
    "SMTP_PASSWORD",
}
ALLOWED_ENVIRONMENTS = "PAYFLOW_ENVIRONMENT must be exactly one of development, production"

# (what changes from SAFE — None unsets it —, what the error must say)
UNSAFE: list[tuple[dict[str, str | None], str]] = [
    ({"ENVIRONMENT": "Production"}, ALLOWED_ENVIRONMENTS),
    ({"ENVIRONMENT": "prod"}, ALLOWED_ENVIRONMENTS),
    ({"ENVIRONMENT": "production "}, ALLOWED_ENVIRONMENTS),
    ({"ENVIRONMENT": "PRODUCTION"}, ALLOWED_ENVIRONMENTS),
    ({"ENVIRONMENT": ""}, ALLOWED_ENVIRONMENTS),
    ({"STRIPE_SECRET_KEY": SANDBOX_STRIPE_SECRET_KEY}, "PAYFLOW_STRIPE_SECRET_KEY is the sandbox's value"),
    ({"STRIPE_SECRET_KEY": "sk_test_VhLNRE9uTTTKnkGdadGGwP_5Ctlm189YwtQs48"}, "must be a live key"),
    ({"STRIPE_SECRET_KEY": "sk_live_x"}, "PAYFLOW_STRIPE_SECRET_KEY is shorter than 32"),
    (
        {"STRIPE_WEBHOOK_SECRET": SANDBOX_STRIPE_WEBHOOK_SECRET},
        "PAYFLOW_STRIPE_WEBHOOK_SECRET is the sandbox",
    ),
    ({"STRIPE_WEBHOOK_SECRET": "whsec_x"}, "PAYFLOW_STRIPE_WEBHOOK_SECRET is shorter than 32"),
    ({"STRIPE_WEBHOOK_SECRET": "LDlBmScy9gWBKYB5HtyuWEPMU6WvRsGTgfwF4aOOvwA"}, "signing secret (whsec_…)"),
    ({"STRIPE_WEBHOOK_TOLERANCE_SECONDS": "0"}, "replay protection"),
    ({"STRIPE_WEBHOOK_TOLERANCE_SECONDS": "86400"}, "PAYFLOW_STRIPE_WEBHOOK_TOLERANCE_SECONDS"),
    ({"UNIVAPAY_APP_TOKEN": SANDBOX_UNIVAPAY_JWT}, "PAYFLOW_UNIVAPAY_APP_TOKEN is the sandbox's value"),
    ({"UNIVAPAY_APP_TOKEN": "not-a-token"}, "PAYFLOW_UNIVAPAY_APP_TOKEN must be the store's app token"),
    ({"UNIVAPAY_STORE_ID": SANDBOX_UNIVAPAY_STORE_ID}, "PAYFLOW_UNIVAPAY_STORE_ID is the sandbox's value"),
    ({"UNIVAPAY_SECRET": SANDBOX_UNIVAPAY_SECRET}, "PAYFLOW_UNIVAPAY_SECRET is the sandbox's value"),
    ({"UNIVAPAY_SECRET": "s3cr3t"}, "PAYFLOW_UNIVAPAY_SECRET is shorter than 16"),
    (
        {"UNIVAPAY_WEBHOOK_AUTH": SANDBOX_UNIVAPAY_WEBHOOK_AUTH},
        "PAYFLOW_UNIVAPAY_WEBHOOK_AUTH is the sandbox",
    ),
    ({"UNIVAPAY_WEBHOOK_AUTH": "Bearer x"}, "PAYFLOW_UNIVAPAY_WEBHOOK_AUTH is a placeholder"),
    ({"UNIVAPAY_WEBHOOK_AUTH": "Bearer " + "a" * 40}, "PAYFLOW_UNIVAPAY_WEBHOOK_AUTH is low-entropy"),
    ({"PAYHERO_USERNAME": SANDBOX_PAYHERO_USERNAME}, "PAYFLOW_PAYHERO_USERNAME is not set to the real API"),
    ({"PAYHERO_PASSWORD": SANDBOX_PAYHERO_PASSWORD}, "PAYFLOW_PAYHERO_PASSWORD is the sandbox's value"),
    ({"PAYHERO_PASSWORD": "changeme"}, "PAYFLOW_PAYHERO_PASSWORD is a placeholder"),
    ({"PAYHERO_CALLBACK_TOKEN": "x"}, "PAYFLOW_PAYHERO_CALLBACK_TOKEN is a placeholder"),
    ({"PAYHERO_CALLBACK_TOKEN": "callback-token"}, "PAYFLOW_PAYHERO_CALLBACK_TOKEN is shorter than 32"),
    (
        {"PAYHERO_CALLBACK_TOKEN": SANDBOX_PAYHERO_CALLBACK_TOKEN},
        "PAYFLOW_PAYHERO_CALLBACK_TOKEN is the sandbox",
    ),
    ({"PAYHERO_CALLBACK_TOKEN": "x" * 64}, "PAYFLOW_PAYHERO_CALLBACK_TOKEN is low-entropy"),
    ({"PAYHERO_CALLBACK_TOKEN": "abcdefghijklmnopqrstuvwxyz0123456789"}, "CALLBACK_TOKEN is low-entropy"),
    ({"PAYHERO_CALLBACK_TOKEN": "1CEpuyF5z7X2hzs47K0f&sauLPpxbGmVYGnaIoJ2Ns"}, "must be URL-safe"),
    ({"SESSION_SECRET": None}, "PAYFLOW_SESSION_SECRET is not set"),
    ({"SESSION_SECRET": "short-but-random-Q7x"}, "PAYFLOW_SESSION_SECRET is shorter than 32"),
    ({"SESSION_SECRET": "0123456789" * 4}, "PAYFLOW_SESSION_SECRET is low-entropy"),
    ({"SESSION_SECRET": "k9Qz" * 12}, "PAYFLOW_SESSION_SECRET is low-entropy"),
    ({"SESSION_SECRET": "please-changeme-before-going-live-2026"}, "PAYFLOW_SESSION_SECRET is a placeholder"),
    ({"METRICS_TOKEN": "metrics"}, "PAYFLOW_METRICS_TOKEN is shorter than 32"),
    ({"TICKET_SIGNING_KEY_PEM": None}, "PAYFLOW_TICKET_SIGNING_KEY_PEM is not set"),
    ({"TICKET_SIGNING_KEY_PEM": "-----BEGIN PRIVATE KEY-----\nnope\n"}, "not an unencrypted PEM private key"),
    ({"TICKET_SIGNING_KEY_PEM": _pem(ec.SECP384R1())}, "must be an EC P-256 key"),
    ({"SANDBOX_ENABLED": "true"}, "PAYFLOW_SANDBOX_ENABLED is on"),
    ({"PUBLIC_URL": "http://tickets.example.com"}, "PAYFLOW_PUBLIC_URL must be an https:// URL"),
    ({"PUBLIC_URL": "https://localhost:3000"}, "PAYFLOW_PUBLIC_URL must be the address customers"),
    ({"STRIPE_API_BASE": "http://api.stripe.com"}, "PAYFLOW_STRIPE_API_BASE must be an https:// URL"),
    ({"UNIVAPAY_API_BASE": "http://api.univapay.com"}, "PAYFLOW_UNIVAPAY_API_BASE must be an https:// URL"),
    (
        {"PAYHERO_API_BASE": "http://backend.payhero.co.ke"},
        "PAYFLOW_PAYHERO_API_BASE must be an https:// URL",
    ),
    ({"UNIVAPAY_WIDGET_SCRIPT": "http://widget.univapay.com/c.js"}, "PAYFLOW_UNIVAPAY_WIDGET_SCRIPT must be"),
    ({"SMTP_HOST": None}, "PAYFLOW_SMTP_HOST is not set"),
    ({"SMTP_STARTTLS": "false"}, "PAYFLOW_SMTP_PASSWORD is sent without TLS"),
]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in SAFE.items():
        monkeypatch.setenv(f"PAYFLOW_{key}", value)
    return monkeypatch


def _apply(monkeypatch: pytest.MonkeyPatch, change: dict[str, str | None]) -> None:
    for key, value in change.items():
        if value is None:
            monkeypatch.delenv(f"PAYFLOW_{key}", raising=False)
        else:
            monkeypatch.setenv(f"PAYFLOW_{key}", value)


def test_a_safe_production_configuration_starts(environ: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.sandbox_enabled is False
    assert settings.stripe_api_base is None
    assert settings.univapay_api_base == "https://api.univapay.com"
    assert settings.payhero_api_base == "https://backend.payhero.co.ke/api/v2"
    # The metrics token is optional: unset is fine, only a weak one is refused.
    environ.delenv("PAYFLOW_METRICS_TOKEN")
    assert Settings().metrics_token is None


@pytest.mark.parametrize(("change", "expected"), UNSAFE, ids=[f"{c}"[:60] for c, _ in UNSAFE])
def test_an_unsafe_production_configuration_is_refused(
    environ: pytest.MonkeyPatch, change: dict[str, str | None], expected: str
) -> None:
    _apply(environ, change)
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert expected in message
    for key, value in change.items():
        if key in SECRETS and value and len(value) >= 8:
            assert value not in message  # named, never printed


def test_every_problem_is_listed_at_once_without_printing_a_secret(environ: pytest.MonkeyPatch) -> None:
    _apply(
        environ,
        {
            "SESSION_SECRET": "k9Qz" * 12,
            "PAYHERO_CALLBACK_TOKEN": "x",
            "PUBLIC_URL": "http://tickets.example.com",
        },
    )
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "PAYFLOW_SESSION_SECRET is low-entropy" in message
    assert "PAYFLOW_PAYHERO_CALLBACK_TOKEN is a placeholder" in message
    assert "PAYFLOW_PUBLIC_URL must be an https:// URL" in message
    for key in SECRETS - {"PAYHERO_CALLBACK_TOKEN"}:
        assert SAFE[key] not in message
    assert "k9Qzk9Qz" not in message


def test_development_still_runs_on_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_ENVIRONMENT", "development")
    monkeypatch.setenv("PAYFLOW_PAYHERO_CALLBACK_TOKEN", "x")
    settings = Settings()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.sandbox_enabled is True
