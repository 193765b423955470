import pytest
from pydantic import ValidationError

from payflow_app.settings import Settings


def test_defaults_run_offline_against_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_PUBLIC_URL", "http://localhost:3000/")
    settings = Settings()
    assert settings.sandbox_enabled is True
    assert settings.stripe_api_base == "http://localhost:3000/sandbox/stripe"
    assert settings.stripe_webhook_url == "http://localhost:3000/api/webhooks/stripe"


def test_a_real_key_turns_the_sandbox_off_and_talks_to_stripe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_STRIPE_SECRET_KEY", "sk_test_real")
    settings = Settings()
    assert settings.sandbox_enabled is False
    assert settings.stripe_api_base is None  # the SDK's own default: api.stripe.com


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="real PAYFLOW_STRIPE"):
        Settings()
    monkeypatch.setenv("PAYFLOW_STRIPE_SECRET_KEY", "sk_live_x")
    monkeypatch.setenv("PAYFLOW_STRIPE_WEBHOOK_SECRET", "whsec_x")
    with pytest.raises(ValidationError, match="TICKET_SIGNING_KEY"):
        Settings()
