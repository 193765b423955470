import pytest
from pydantic import ValidationError

from payflow_app.settings import Settings


def test_defaults_run_offline_against_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_PUBLIC_URL", "http://localhost:3000/")
    settings = Settings()
    assert settings.sandbox_enabled is True
    assert settings.stripe_api_base == "http://localhost:3000/sandbox/stripe"
    assert settings.stripe_webhook_url == "http://localhost:3000/api/webhooks/stripe"


def test_real_keys_talk_to_the_providers_and_turn_the_sandbox_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_STRIPE_SECRET_KEY", "sk_test_real")
    settings = Settings()
    assert settings.stripe_api_base is None  # the SDK's own default: api.stripe.com
    assert settings.sandbox_enabled is True  # UnivaPay and PayHero still use it
    assert settings.univapay_api_base == "http://localhost:3000/sandbox/univapay"
    monkeypatch.setenv("PAYFLOW_UNIVAPAY_APP_TOKEN", "eyJ.real.token")
    monkeypatch.setenv("PAYFLOW_PAYHERO_USERNAME", "real-user")
    settings = Settings()
    assert settings.sandbox_enabled is False
    assert settings.univapay_api_base == "https://api.univapay.com"
    assert settings.payhero_api_base == "https://backend.payhero.co.ke/api/v2"


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="real PAYFLOW_STRIPE"):
        Settings()
    monkeypatch.setenv("PAYFLOW_STRIPE_SECRET_KEY", "sk_live_x")
    monkeypatch.setenv("PAYFLOW_STRIPE_WEBHOOK_SECRET", "whsec_x")
    with pytest.raises(ValidationError, match="real PAYFLOW_UNIVAPAY"):
        Settings()
    monkeypatch.setenv("PAYFLOW_UNIVAPAY_APP_TOKEN", "eyJ.real.token")
    monkeypatch.setenv("PAYFLOW_UNIVAPAY_SECRET", "real-secret")
    with pytest.raises(ValidationError, match="PAYFLOW_UNIVAPAY_WEBHOOK_AUTH"):
        Settings()
    monkeypatch.setenv("PAYFLOW_UNIVAPAY_WEBHOOK_AUTH", "Bearer real-webhook-token")
    with pytest.raises(ValidationError, match="real PAYFLOW_PAYHERO"):
        Settings()
    monkeypatch.setenv("PAYFLOW_PAYHERO_USERNAME", "real-user")
    monkeypatch.setenv("PAYFLOW_PAYHERO_PASSWORD", "real-password")
    monkeypatch.setenv("PAYFLOW_PAYHERO_CALLBACK_TOKEN", "a-long-random-callback-token")
    with pytest.raises(ValidationError, match="TICKET_SIGNING_KEY"):
        Settings()
