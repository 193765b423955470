import os
import shutil
import subprocess

import pytest
from pydantic import ValidationError

from payflow_app.settings import PROJECT_ROOT, Settings


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


def test_the_public_url_follows_the_port_unless_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """``make run PORT=8080``: checkout sessions and sandbox webhooks come back to :8080."""
    monkeypatch.delenv("PAYFLOW_PUBLIC_URL", raising=False)
    assert Settings().public_url == "http://localhost:3000"
    monkeypatch.setenv("PAYFLOW_PORT", "8080")
    settings = Settings()
    assert settings.public_url == "http://localhost:8080"
    assert settings.stripe_api_base == "http://localhost:8080/sandbox/stripe"
    assert settings.univapay_api_base == "http://localhost:8080/sandbox/univapay"
    assert settings.payhero_api_base == "http://localhost:8080/sandbox/payhero/api/v2"
    assert settings.stripe_webhook_url == "http://localhost:8080/api/webhooks/stripe"
    assert settings.payhero_callback_url.startswith("http://localhost:8080/api/payhero/callback?")
    assert settings.browser_origins == ["http://localhost:8080"]
    monkeypatch.setenv("PAYFLOW_PUBLIC_URL", "https://tickets.example.com/")
    settings = Settings()
    assert settings.public_url == "https://tickets.example.com"
    assert settings.stripe_webhook_url == "https://tickets.example.com/api/webhooks/stripe"
    monkeypatch.setenv("PAYFLOW_PORT", "0")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_the_pages_open_their_websocket_at_the_public_address_once_it_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Behind a reverse proxy the tab's websocket goes through the proxy (rxconfig.py's
    ``api_url``); without a public URL Reflex's own default, the backend's port, stays."""
    monkeypatch.delenv("PAYFLOW_PUBLIC_URL", raising=False)
    monkeypatch.setenv("PAYFLOW_PORT", "8080")
    assert Settings().frontend_api_url is None
    monkeypatch.setenv("PAYFLOW_PUBLIC_URL", "https://Tickets.example.com:443/")
    assert Settings().frontend_api_url == "https://tickets.example.com"
    monkeypatch.setenv("PAYFLOW_PUBLIC_URL", "http://localhost:8000")
    assert Settings().frontend_api_url == "http://localhost:8000"


REDIS = "redis://127.0.0.1:6379/0"


def _make_run(*variables: str, redis_url: str | None = None) -> str:
    """The command ``make run`` starts the app with (dry run: nothing is executed)."""
    ours = ("REFLEX_REDIS_URL", "GRANIAN_WORKERS", "WORKERS", "PORT", "MAKEFLAGS")
    env = {key: value for key, value in os.environ.items() if key not in ours}
    if redis_url:
        env["REFLEX_REDIS_URL"] = redis_url
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *variables],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return next(line for line in done.stdout.splitlines() if "reflex run" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_passes_the_port_and_one_worker_per_core_with_redis() -> None:
    command = _make_run("PORT=8080")
    assert "PAYFLOW_PORT=8080" in command and "--backend-port 8080" in command
    assert "GRANIAN_WORKERS" not in command  # no Redis: one worker, state in memory
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    command = _make_run(redis_url=REDIS)
    assert f"GRANIAN_WORKERS={cores} " in command and "PAYFLOW_PORT=3000" in command
    command = _make_run("WORKERS=4", redis_url=REDIS)
    assert "GRANIAN_WORKERS=4 " in command
