"""The catalogues: every text a customer can see exists in English and Polish, with the
same placeholders, and every key the code asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

from payflow_app.i18n import decline_reason, t
from payflow_app.i18n.en import MESSAGES as EN
from payflow_app.i18n.pl import MESSAGES as PL
from payflow_app.providers.payhero import MPESA_REASONS
from payflow_app.providers.univapay import CHARGE_REASONS

APP = Path(__file__).resolve().parents[2] / "payflow_app"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# The same in both languages: a name, or a word Polish spells as English does.
SAME_IN_BOTH = {
    "order.describe.tickets",  # only placeholders and symbols
    "checkout.method_mpesa",  # a brand
    "dashboard.plan",
    "nav.menu",
    "success.status",
    "tickets.status",
}


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert EN.keys() - PL.keys() == set(), "missing in Polish"
    assert PL.keys() - EN.keys() == set(), "missing in English"
    for key in EN:
        assert set(PLACEHOLDER.findall(EN[key])) == set(PLACEHOLDER.findall(PL[key])), key


def test_polish_texts_are_translated_not_copied() -> None:
    copied = {key for key in EN if EN[key] == PL[key] and PLACEHOLDER.sub("", EN[key]).strip(" —×.,:")}
    assert copied <= SAME_IN_BOTH, sorted(copied - SAME_IN_BOTH)


def test_every_key_the_code_asks_for_exists() -> None:
    """Literal keys given to ``t(lang, "…")`` and ``tr("…")`` anywhere in the app."""
    asked: set[str] = set()
    for path in APP.rglob("*.py"):
        text = path.read_text()
        asked |= set(re.findall(r"\btr\(\s*\"([a-z_]+\.[a-z0-9_.]+)\"", text))
        asked |= set(re.findall(r"\bt\(\s*\w+,\s*\"([a-z_]+\.[a-z0-9_.]+)\"", text))
    assert asked, "the scan found no keys: the pattern is wrong"
    assert asked - EN.keys() == set()


def test_every_decline_code_a_provider_gives_is_worded_in_both_languages() -> None:
    codes = [f"univapay_{n}" for n in CHARGE_REASONS] + [f"mpesa_{n}" for n in MPESA_REASONS]
    for code in codes:
        assert f"decline.{code}" in EN and f"decline.{code}" in PL, code


def test_a_decline_is_said_once_in_the_readers_language_with_a_next_step() -> None:
    polish = decline_reason("pl", "univapay_358", "3-D Secure authentication was not completed.")
    assert polish == PL["decline.univapay_358"] and "3-D Secure" in polish and "Spróbuj" in polish
    # A code payflow has no words for: the provider's own, else a general line.
    assert decline_reason("pl", "univapay_999", "Something rare.") == "Something rare."
    assert decline_reason("pl", None, None) == t("pl", "success.failed")
