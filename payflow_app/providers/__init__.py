"""One module per payment rail behind :mod:`payflow_app.providers.base`."""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from payflow_app.providers.base import PaymentProvider
from payflow_app.settings import Settings, get_settings

# SDK HTTP clients hold connections bound to one event loop, so each loop gets its
# own providers; they are rebuilt when the settings object changes.
_by_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[Settings, PaymentProvider]]] = (
    WeakKeyDictionary()
)
_outside_loop: dict[str, tuple[Settings, PaymentProvider]] = {}


def _build(identifier: str, settings: Settings) -> PaymentProvider:
    if identifier == "stripe":
        from payflow_app.providers.stripe_checkout import StripeCheckoutProvider

        return StripeCheckoutProvider(settings)
    if identifier == "univapay":
        from payflow_app.providers.univapay import UnivaPayProvider

        return UnivaPayProvider(settings)
    if identifier == "payhero":
        from payflow_app.providers.payhero import PayHeroProvider

        return PayHeroProvider(settings)
    raise LookupError(f"unknown payment provider {identifier!r}")


def get_provider(identifier: str) -> PaymentProvider:
    settings = get_settings()
    try:
        cache = _by_loop.setdefault(asyncio.get_running_loop(), {})
    except RuntimeError:
        cache = _outside_loop
    cached = cache.get(identifier)
    if cached is None or cached[0] is not settings:
        cached = cache[identifier] = (settings, _build(identifier, settings))
    return cached[1]
