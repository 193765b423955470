"""Plans a customer can upgrade to, and the price of publishing a gallery."""

from __future__ import annotations

from dataclasses import dataclass

from payflow_app.core.money import Money


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    rank: int
    price: Money  # one-off upgrade price
    storage_limit_mb: int
    gallery_limit: int


PLANS: dict[str, Plan] = {
    plan.code: plan
    for plan in (
        Plan("free", "Free", 0, Money(0, "PLN"), 500, 1),
        Plan("pro", "Pro", 1, Money(4900, "PLN"), 10_000, 10),
        Plan("studio", "Studio", 2, Money(14900, "PLN"), 100_000, 100),
    )
}
GALLERY_PUBLICATION_PRICE = Money(1900, "PLN")
# Wallet top-ups: bounds in minor units, per currency the wallet holds.
TOP_UP_LIMITS: dict[str, tuple[int, int]] = {"PLN": (1000, 1_000_000), "KES": (10_000, 10_000_000)}


def plan(code: str) -> Plan | None:
    return PLANS.get(code)


def rank(code: str) -> int:
    """A plan's rank; an unknown code counts as the free plan."""
    return PLANS.get(code, PLANS["free"]).rank


def upgrades_from(code: str) -> list[Plan]:
    current = PLANS.get(code, PLANS["free"])
    return [p for p in PLANS.values() if p.rank > current.rank]
