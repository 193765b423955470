"""The sandbox's fault knobs: what a valid set is, how a callback's deliveries are
planned from them, and that they are kept per rail in the database."""

from __future__ import annotations

import random

import pytest

from payflow_app.sandbox import faults
from payflow_app.sandbox.faults import REORDER_WINDOW_SECONDS, DeliveryPlan, Faults
from payflow_app.sandbox.payhero.prompts import forged_callback_url
from payflow_app.settings import reload_settings

# --- validation ------------------------------------------------------------------------


def test_the_defaults_are_a_well_behaved_provider() -> None:
    assert Faults().to_json() == {
        "delay_seconds": 0.0,
        "duplicates": 1,
        "drop_rate": 0.0,
        "reorder": False,
        "bad_signature": False,
        "status_error_rate": 0.0,
        "status_delay_seconds": 0.0,
    }


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"delay_seconds": -1}, "delay_seconds must be a number from 0 to 3600 (got -1)."),
        ({"duplicates": 0}, "duplicates must be a whole number from 1 to 10 (got 0)."),
        ({"duplicates": 11}, "duplicates must be a whole number from 1 to 10 (got 11)."),
        ({"duplicates": 2.5}, "duplicates must be a whole number from 1 to 10 (got 2.5)."),
        ({"duplicates": True}, "duplicates must be a whole number from 1 to 10 (got True)."),
        ({"drop_rate": 1.5}, "drop_rate must be a number from 0 to 1 (got 1.5)."),
        ({"drop_rate": float("nan")}, "drop_rate must be a number from 0 to 1 (got nan)."),
        ({"drop_rate": "0.5"}, "drop_rate must be a number from 0 to 1 (got '0.5')."),
        ({"reorder": "yes"}, "reorder must be true or false (got 'yes')."),
        ({"bad_signature": 1}, "bad_signature must be true or false (got 1)."),
        ({"status_error_rate": -0.1}, "status_error_rate must be a number from 0 to 1 (got -0.1)."),
        ({"status_delay_seconds": float("inf")}, "status_delay_seconds must be a number from 0 to 3600"),
        ({"delays": 1}, "Unknown knob 'delays'; the knobs are delay_seconds, duplicates"),
    ],
)
def test_a_value_out_of_range_or_of_the_wrong_type_is_refused_readably(
    knobs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        Faults.from_json(knobs)
    assert str(refused.value).startswith(message)


def test_json_knobs_left_out_take_their_defaults_and_integers_count_as_numbers() -> None:
    knobs = Faults.from_json({"drop_rate": 1, "duplicates": 3})
    assert knobs == Faults(drop_rate=1.0, duplicates=3)
    assert knobs.to_json()["drop_rate"] == 1.0 and isinstance(knobs.to_json()["drop_rate"], float)


def test_form_fields_are_parsed_and_an_unticked_checkbox_is_off() -> None:
    form = {"delay_seconds": " 0.5 ", "duplicates": "2", "drop_rate": "0", "reorder": "on"}
    form |= {"status_error_rate": "0.25", "status_delay_seconds": "3"}
    assert Faults.from_form(form) == Faults(
        delay_seconds=0.5, duplicates=2, reorder=True, status_error_rate=0.25, status_delay_seconds=3.0
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duplicates", "3.5", "duplicates must be a whole number from 1 to 10 (got '3.5')."),
        ("delay_seconds", "", "delay_seconds must be a number from 0 to 3600 (got '')."),
        ("drop_rate", "half", "drop_rate must be a number from 0 to 1 (got 'half')."),
        ("drop_rate", "2", "drop_rate must be a number from 0 to 1 (got '2')."),
    ],
)
def test_a_bad_form_field_is_refused_with_what_was_typed(field: str, value: str, message: str) -> None:
    form = {k.name: "0" for k in faults.KNOBS} | {"duplicates": "1", field: value}
    with pytest.raises(ValueError) as refused:
        Faults.from_form(form)
    assert str(refused.value) == message


# --- planning a callback's deliveries ---------------------------------------------------------


def test_a_well_behaved_provider_sends_one_copy_after_its_delay() -> None:
    assert Faults().plan(base_delay=1.0, rng=random.Random(1)) == DeliveryPlan(delays=(1.0,))


def test_duplicates_and_extra_delay_send_every_copy_at_the_same_time() -> None:
    plan = Faults(duplicates=3, delay_seconds=2.0).plan(base_delay=0.5, rng=random.Random(1))
    assert plan == DeliveryPlan(delays=(2.5, 2.5, 2.5))


def test_a_drop_rate_of_one_drops_every_callback_and_zero_none() -> None:
    rng = random.Random()
    assert all(Faults(drop_rate=1.0).plan(base_delay=0, rng=rng).delays == () for _ in range(200))
    assert all(len(Faults(drop_rate=0.0).plan(base_delay=0, rng=rng).delays) == 1 for _ in range(200))


def test_a_drop_rate_drops_about_that_share_with_a_fixed_seed() -> None:
    rng = random.Random(20260101)
    plans = [Faults(drop_rate=0.3, duplicates=2).plan(base_delay=0, rng=rng) for _ in range(1000)]
    dropped = sum(1 for p in plans if not p.delays)
    assert 250 <= dropped <= 350
    assert all(len(p.delays) == 2 for p in plans if p.delays)  # a callback is dropped whole


def test_reorder_spreads_the_copies_over_the_window_in_no_fixed_order() -> None:
    rng = random.Random(7)
    plans = [Faults(duplicates=4, reorder=True).plan(base_delay=0.5, rng=rng) for _ in range(50)]
    delays = [d for p in plans for d in p.delays]
    assert all(0.5 <= d <= 0.5 + REORDER_WINDOW_SECONDS for d in delays)
    assert len(set(delays)) == len(delays)  # no two copies arrive together
    assert any(list(p.delays) != sorted(p.delays) for p in plans)


def test_bad_signature_forges_every_copy() -> None:
    plan = Faults(bad_signature=True, duplicates=2).plan(base_delay=0, rng=random.Random(1))
    assert plan == DeliveryPlan(delays=(0.0, 0.0), forged=True)


def test_a_forged_credential_is_never_the_genuine_one() -> None:
    assert faults.wrong_credential("whsec_abc") != "whsec_abc"
    forged = forged_callback_url("http://shop.test/api/payhero/callback?token=s3cret&x=1")
    assert forged.startswith("http://shop.test/api/payhero/callback?x=1&token=")
    assert "token=s3cret&" not in forged + "&" and "token=s3cret-" in forged


# --- kept per rail in the database ----------------------------------------------------------


def test_knobs_are_saved_per_rail_and_reset(sqlite_db: str) -> None:
    assert faults.load_faults("stripe") == Faults()
    faults.save_faults("stripe", Faults(duplicates=3))
    faults.save_faults("stripe", Faults(drop_rate=0.5))  # a save replaces every knob
    faults.save_faults("payhero", Faults(bad_signature=True))
    assert faults.load_faults("stripe") == Faults(drop_rate=0.5)
    assert faults.load_faults("payhero") == Faults(bad_signature=True)
    assert faults.load_faults("univapay") == Faults()
    faults.reset_faults()
    assert [faults.load_faults(p) for p in faults.PROVIDERS] == [Faults()] * 3


def test_an_unknown_rail_is_refused(sqlite_db: str) -> None:
    with pytest.raises(ValueError, match="Unknown provider 'paypal'"):
        faults.load_faults("paypal")
    with pytest.raises(ValueError, match="Unknown provider"):
        faults.save_faults("paypal", Faults())


def test_plan_deliveries_adds_the_sandbox_delay_and_honours_the_withhold_setting(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYFLOW_SANDBOX_WEBHOOK_DELAY_SECONDS", "0.25")
    reload_settings()
    try:
        faults.save_faults("payhero", Faults(delay_seconds=1.0))
        assert faults.plan_deliveries("payhero") == DeliveryPlan(delays=(1.25,))
        monkeypatch.setenv("PAYFLOW_SANDBOX_PAYHERO_WITHHOLD_CALLBACKS", "true")
        reload_settings()
        assert faults.plan_deliveries("payhero").delays == ()
        assert faults.plan_deliveries("stripe") == DeliveryPlan(delays=(0.25,))  # PayHero's setting only
        assert faults.load_faults("payhero") == Faults(delay_seconds=1.0)  # the knobs stay as set
    finally:
        monkeypatch.undo()
        reload_settings()
