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


def test_production_refuses_the_sandbox_until_every_rail_and_secret_is_real(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment step by step: each error names what is still missing, all of it at once."""
    from tests.security.test_production_guard import SAFE

    def problems() -> str:
        with pytest.raises(ValidationError) as refused:
            Settings()
        return str(refused.value)

    monkeypatch.setenv("PAYFLOW_ENVIRONMENT", "production")
    first = problems()
    for name in ("STRIPE_SECRET_KEY", "UNIVAPAY_APP_TOKEN", "PAYHERO_CALLBACK_TOKEN", "SESSION_SECRET"):
        assert f"PAYFLOW_{name}" in first
    assert "PAYFLOW_SANDBOX_ENABLED is on" in first
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "UNIVAPAY_APP_TOKEN", "UNIVAPAY_SECRET"):
        monkeypatch.setenv(f"PAYFLOW_{name}", SAFE[name])
    monkeypatch.setenv("PAYFLOW_UNIVAPAY_STORE_ID", SAFE["UNIVAPAY_STORE_ID"])
    monkeypatch.setenv("PAYFLOW_PAYHERO_USERNAME", SAFE["PAYHERO_USERNAME"])
    second = problems()
    assert "PAYFLOW_STRIPE_SECRET_KEY" not in second and "PAYFLOW_UNIVAPAY_APP_TOKEN" not in second
    assert "PAYFLOW_SANDBOX_ENABLED" not in second  # no rail uses the sandbox's credentials now
    assert "PAYFLOW_PAYHERO_PASSWORD is the sandbox's value" in second
    # The example: a one-character callback token used to be accepted.
    monkeypatch.setenv("PAYFLOW_PAYHERO_CALLBACK_TOKEN", "x")
    assert "PAYFLOW_PAYHERO_CALLBACK_TOKEN is a placeholder" in problems()
    for name, value in SAFE.items():
        monkeypatch.setenv(f"PAYFLOW_{name}", value)
    assert Settings().environment == "production"


@pytest.mark.parametrize("value", ["Production", "prod", "production ", " development", "staging", "test"])
def test_an_unknown_environment_is_refused_naming_the_allowed_values(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PAYFLOW_ENVIRONMENT", value)
    with pytest.raises(ValidationError, match="must be exactly one of development, production"):
        Settings()


def test_tickets_are_valid_a_day_after_the_start_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ticket_valid_hours_after_start == 24
    monkeypatch.setenv("PAYFLOW_TICKET_VALID_HOURS_AFTER_START", "72")
    assert Settings().ticket_valid_hours_after_start == 72
    monkeypatch.setenv("PAYFLOW_TICKET_VALID_HOURS_AFTER_START", "-1")
    with pytest.raises(ValidationError, match="ticket_valid_hours_after_start"):
        Settings()
