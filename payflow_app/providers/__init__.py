"""One module per payment rail behind :mod:`payflow_app.providers.base`."""

from __future__ import annotations

from functools import lru_cache

from payflow_app.providers.base import PaymentProvider
from payflow_app.settings import get_settings


@lru_cache(maxsize=8)
def _provider(identifier: str, settings_id: int) -> PaymentProvider:
    settings = get_settings()
    if identifier == "stripe":
        from payflow_app.providers.stripe_checkout import StripeCheckoutProvider

        return StripeCheckoutProvider(settings)
    raise LookupError(f"unknown payment provider {identifier!r}")


def get_provider(identifier: str) -> PaymentProvider:
    # Keyed by the settings object so reloaded settings get a fresh client.
    return _provider(identifier, id(get_settings()))
