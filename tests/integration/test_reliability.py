"""The reliability suite (issue 5): payflow under the failures providers really
produce, on every rail, through the real HTTP endpoints, inbox worker, reconciler
and fulfilment (helpers: ``rails.py`` opens and pays payments and builds their
callbacks; ``reliability.py`` delivers them, checks, and runs the app as a process):

- a burst of callbacks, each sent three times, all shuffled and delivered
  concurrently, fulfils every payment exactly once;
- callbacks that never come: the reconciler asks the provider and completes them;
- a provider's status API failing for a while: the inbox retries, then succeeds;
- the app killed (SIGKILL) mid-burst and restarted: every stored event is processed
  and every payment fulfilled exactly once.

Each test prints its figures (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.models import ProcessingAttempt, WebhookEvent, pk
from payflow_app.sandbox import faults
from payflow_app.sandbox.faults import Faults
from payflow_app.seed import seed
from payflow_app.settings import reload_settings
from tests.conftest import use_database
from tests.integration.conftest import free_port
from tests.integration.rails import (
    RAILS,
    MpesaTickets,
    Purchase,
    StripeTopUps,
    hold_back_sandbox_callbacks,
    new_customer,
    new_ticket_type,
    open_purchases,
    pay_purchases,
    rail_for,
)
from tests.integration.reliability import (
    AppProcess,
    Burst,
    all_fulfilled,
    all_processed,
    attempts_by_event,
    check_fulfilled_once,
    check_ledger,
    deliver,
    emails_sent,
    failed_attempts,
    inbox_snapshot,
    stored_event_ids,
    wait_for,
)

BURST = 200


def tune(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    """Change the running app's settings (its workers read them as they go). An
    M-PESA prompt waits for its answer however slow the machine opening the rest is."""
    settings = {"sandbox_mpesa_prompt_timeout_seconds": "600", **settings}
    for key, value in settings.items():
        monkeypatch.setenv(f"PAYFLOW_{key.upper()}", value)
    reload_settings()


# --- 1. duplicated, shuffled, concurrent --------------------------------------------------------


@pytest.mark.parametrize("provider", RAILS)
def test_a_burst_of_duplicated_shuffled_callbacks_fulfils_every_payment_exactly_once(
    server: str, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    # The callbacks alone settle these payments; the reconciler's part is the next test.
    tune(monkeypatch, pending_sync_first_seconds="600")
    hold_back_sandbox_callbacks()
    rail = rail_for(provider)
    started = time.monotonic()
    bought = open_purchases(server, rail, BURST)
    pay_purchases(server, rail, bought)
    opened = time.monotonic()
    callbacks = [cb for purchase in bought for cb in purchase.callbacks]
    event_ids = {cb.event_id for cb in callbacks}
    assert len(event_ids) == len(callbacks)

    burst = asyncio.run(deliver(server, callbacks, copies=3, concurrency=32))
    wait_for(lambda: all_fulfilled(bought), timeout=180, what=f"{BURST} {provider} orders fulfilled")
    fulfilled = time.monotonic()
    wait_for(lambda: all_processed(len(event_ids)), timeout=60, what="every stored event processed")
    wait_for(lambda: emails_sent(bought), timeout=30, what="their emails sent")

    assert burst.statuses == Counter({200: 3 * len(callbacks)})
    assert burst.stored == Counter(dict.fromkeys(event_ids, 1))  # the other copies: duplicates
    attempts = attempts_by_event(provider)
    assert set(attempts) == event_ids
    assert {tuple(a.outcome for a in tries) for tries in attempts.values()} == {("ok",)}
    check_fulfilled_once(rail, bought)
    if isinstance(rail, StripeTopUps):
        balance = check_ledger(rail.user_id, bought)
        print(f"\nwallet: {balance / 100:.2f} PLN from {len(bought)} top-ups, one ledger entry each")
    print(
        f"\n{provider}: {len(bought)} payments opened and paid in {opened - started:.1f} s; "
        f"{burst.copies} callbacks ({len(event_ids)} distinct) posted in {burst.seconds:.1f} s; "
        f"all fulfilled {fulfilled - opened:.1f} s after the burst began"
    )


# --- 2. callbacks that never come -----------------------------------------------------------------

# 30 payments a rail (90 in all), 9 of each never called back: enough to show the
# reconciler finishing what the callbacks left undone, within the suite's time budget.
PER_RAIL = 30
NEVER_CALLED_BACK = 9


def test_callbacks_that_never_come_are_completed_by_the_reconciler(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(
        monkeypatch,
        pending_sync_first_seconds="1",
        pending_sync_max_seconds="2",
        pending_sync_poll_seconds="0.3",
    )
    hold_back_sandbox_callbacks()
    rng = random.Random(30)
    rails = {provider: rail_for(provider) for provider in RAILS}
    bought = {provider: open_purchases(server, rail, PER_RAIL) for provider, rail in rails.items()}
    for provider, rail in rails.items():
        pay_purchases(server, rail, bought[provider])
    dropped = {p.payment_id for provider in RAILS for p in rng.sample(bought[provider], NEVER_CALLED_BACK)}
    everything = [p for provider in RAILS for p in bought[provider]]
    sent = [cb for p in everything if p.payment_id not in dropped for cb in p.callbacks]
    started = time.monotonic()

    burst = asyncio.run(deliver(server, sent, copies=3, concurrency=32))
    wait_for(lambda: all_fulfilled(everything), timeout=90, what="every order fulfilled")
    fulfilled = time.monotonic()
    wait_for(lambda: all_processed(len(sent)), timeout=30, what="every stored event processed")

    assert burst.statuses == Counter({200: 3 * len(sent)})
    for provider, rail in rails.items():
        check_fulfilled_once(rail, bought[provider])
    stripe = rails["stripe"]
    assert isinstance(stripe, StripeTopUps)
    check_ledger(stripe.user_id, bought["stripe"])
    with read_session() as session:
        attempts = session.exec(
            select(ProcessingAttempt).where(
                col(ProcessingAttempt.payment_id).in_([p.payment_id for p in everything])
            )
        ).all()
    told_by_webhook = {a.payment_id for a in attempts if a.kind == "webhook"}
    heard_paid_by_reconciler = {
        a.payment_id
        for a in attempts
        if (a.kind, a.trigger, a.outcome, a.detail) == ("sync", "reconciler", "ok", "provider says succeeded")
    }
    assert {a.outcome for a in attempts} == {"ok"}  # webhooks and status queries raced harmlessly
    assert told_by_webhook.isdisjoint(dropped)  # nothing ever told the app about these
    assert dropped <= heard_paid_by_reconciler  # the reconciler asked, heard "paid", fulfilled them
    print(
        f"\n{len(everything)} payments, {len(dropped)} never called back: all fulfilled "
        f"{fulfilled - started:.1f} s after the {burst.copies} other callbacks began; "
        f"{sum(a.kind == 'sync' for a in attempts)} status queries by the reconciler; "
        f"{len(heard_paid_by_reconciler - dropped)} called-back payments were also found paid by it first"
    )


# --- 3. a status API that fails for a while ----------------------------------------------------

# 8 payments a rail: every failed Stripe status query costs ~1.5 s (the SDK retries a
# 500 twice before the adapter gives up), and the inbox takes a few at a time per rail.
PER_RAIL_OUTAGE = 8
OUTAGE = "could not be reached; please try again."  # every adapter's PaymentError message


def test_a_failing_status_api_is_retried_until_it_answers_then_each_payment_is_fulfilled_once(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tune(
        monkeypatch,
        inbox_retry_first_seconds="0.5",
        inbox_retry_max_seconds="4",
        pending_sync_first_seconds="600",  # the inbox's retries alone
    )
    well = Faults(duplicates=2, reorder=True)  # the sandbox sends its own callbacks here
    for provider in RAILS:
        faults.save_faults(provider, well)
    rails = {provider: rail_for(provider) for provider in RAILS}
    bought = {provider: open_purchases(server, rail, PER_RAIL_OUTAGE) for provider, rail in rails.items()}
    everything = [p for provider in RAILS for p in bought[provider]]

    for provider in RAILS:  # the outage begins as the customers pay
        faults.save_faults(provider, Faults(duplicates=2, reorder=True, status_error_rate=1.0))
    outage_began = time.monotonic()
    # Stripe's customers pay last (a failing Stripe query takes ~1.5 s; each rail has
    # lanes of its own, so the other rails' callbacks are tried meanwhile: test 5).
    for provider in reversed(RAILS):
        pay_purchases(server, rails[provider], bought[provider])
    # The callbacks that tell of the payments (not UnivaPay's earlier "awaiting 3-D Secure").
    told = {cb.event_id for p in everything for cb in p.callbacks if "charge_updated" not in cb.body}
    wait_for(lambda: told <= stored_event_ids(), timeout=30, what="the sandbox's callbacks stored")

    def failed_on_every_rail() -> bool:
        return all(failed_attempts(provider, told) for provider in RAILS)

    wait_for(failed_on_every_rail, timeout=30, what="failed attempts on every rail")
    time.sleep(2)  # a few more rounds of retries against the failing API
    assert not any(all_fulfilled([p]) for p in everything)  # never on a callback's word alone
    for provider in RAILS:
        faults.save_faults(provider, well)
    outage = time.monotonic() - outage_began

    wait_for(lambda: all_fulfilled(everything), timeout=60, what="every order fulfilled")
    recovered = time.monotonic() - outage_began - outage
    stored = {cb.event_id for p in everything for cb in p.callbacks}
    wait_for(lambda: all_processed(len(stored)), timeout=30, what="every stored event processed")

    for provider, rail in rails.items():
        check_fulfilled_once(rail, bought[provider])
    stripe = rails["stripe"]
    assert isinstance(stripe, StripeTopUps)
    check_ledger(stripe.user_id, bought["stripe"])
    with read_session() as session:
        events = {e.event_id: e for e in session.exec(select(WebhookEvent)).all()}
    failures = retried = 0
    for provider in RAILS:
        for event_id, tries in attempts_by_event(provider).items():
            outcomes = [a.outcome for a in tries]
            assert outcomes[-1] == "ok" and outcomes.count("ok") == 1, (event_id, outcomes)
            assert len(tries) == events[event_id].attempts  # every attempt is kept
            errors = [a.detail or "" for a in tries if a.outcome == "error"]
            # The status API was down, or (UnivaPay) its first callback overtook the
            # app's own record of the charge: both are retried.
            assert all(OUTAGE in d or d.startswith("LookupError: no payment") for d in errors), errors
            failures += sum(OUTAGE in d for d in errors)
            retried += bool(errors)
    print(
        f"\n{len(everything)} payments paid during a {outage:.1f} s status-API outage: "
        f"{failures} failed attempts on {retried} of {len(stored)} events, each retried until it "
        f"succeeded; all fulfilled {recovered:.1f} s after the outage ended"
    )


# --- 4. the app killed mid-burst ------------------------------------------------------------------

KILL_BURST = 50  # payments a rail: Stripe top-ups and M-PESA ticket orders


@pytest.fixture
def app_process(any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppProcess]:
    """An app process on a database it shares with the test (a SQLite file, or
    PostgreSQL as several workers would use it)."""
    port = free_port()
    use_database(
        any_db,
        tmp_path,
        monkeypatch,
        public_url=f"http://127.0.0.1:{port}",
        # A killed worker's claim on an event runs out after this long.
        inbox_lease_seconds="2",
        inbox_poll_seconds="0.2",
        pending_sync_first_seconds="600",  # the inbox alone recovers
        sandbox_mpesa_prompt_timeout_seconds="600",
    )
    seed()
    app = AppProcess(port, tmp_path)
    yield app
    app.stop()


def test_the_app_killed_mid_burst_and_restarted_processes_every_stored_event_exactly_once(
    app_process: AppProcess,
) -> None:
    app = app_process
    app.start()
    hold_back_sandbox_callbacks()
    top_ups = StripeTopUps(new_customer("killed-top-ups@example.com"))
    tickets = MpesaTickets(
        new_customer("killed-tickets@example.com"), new_ticket_type(currency="KES", price_minor=150_000)
    )
    bought: dict[str, list[Purchase]] = {}
    for rail in (top_ups, tickets):
        bought[rail.provider] = open_purchases(app.base, rail, KILL_BURST)
        pay_purchases(app.base, rail, bought[rail.provider])
    everything = bought["stripe"] + bought["payhero"]
    callbacks = [cb for p in everything for cb in p.callbacks]

    burst = Burst()
    sender = threading.Thread(
        target=lambda: asyncio.run(
            deliver(
                app.base,
                callbacks,
                copies=3,
                concurrency=8,
                spread_seconds=12,  # the burst lasts 12 s; the app dies in the middle of it
                retry_for_seconds=60,  # and the providers retry what it could not take
                burst=burst,
            )
        ),
        daemon=True,
    )
    sender.start()
    wait_for(lambda: inbox_snapshot()[0]["processed"] >= 5, timeout=30, what="the worker under way")
    # From now on a status query takes 10 s: the worker is caught inside its next one.
    for provider in ("stripe", "payhero"):
        faults.save_faults(provider, Faults(drop_rate=1.0, status_delay_seconds=10))
    caught: list[list[int]] = []

    def caught_mid_event() -> bool:
        caught.append(inbox_snapshot()[1])
        return len(caught) > 5 and bool(caught[-1]) and all(c == caught[-1] for c in caught[-5:])

    wait_for(caught_mid_event, timeout=30, what="the worker stuck in a status query", every=0.1)
    app.kill()
    statuses, interrupted = inbox_snapshot()
    answered_at_kill = burst.answered
    assert interrupted == caught[-1]  # claimed by the killed worker, never finished
    assert statuses["pending"] > len(interrupted)  # stored, not processed yet
    assert answered_at_kill < burst.copies  # the burst was still going on

    for provider in ("stripe", "payhero"):
        faults.save_faults(provider, Faults(drop_rate=1.0))
    restarted = time.monotonic()
    app.start()
    sender.join(timeout=90)
    assert not sender.is_alive()
    wait_for(lambda: all_fulfilled(everything), timeout=90, what="every order fulfilled")
    wait_for(lambda: all_processed(len(callbacks)), timeout=30, what="every stored event processed")
    recovered = time.monotonic() - restarted

    assert burst.statuses == Counter({200: burst.copies}), app.log_text()
    assert burst.failed_posts > 0  # the providers had to retry while the app was down
    check_fulfilled_once(top_ups, bought["stripe"])
    check_fulfilled_once(tickets, bought["payhero"])
    check_ledger(top_ups.user_id, bought["stripe"])
    with read_session() as session:
        events = {pk(e): e for e in session.exec(select(WebhookEvent)).all()}
    assert {e.event_id for e in events.values()} == {cb.event_id for cb in callbacks}
    attempts = {k: v for provider in ("stripe", "payhero") for k, v in attempts_by_event(provider).items()}
    assert {tuple(a.outcome for a in tries) for tries in attempts.values()} == {("ok",)}
    for event_id in interrupted:  # taken again once the dead worker's lease ran out
        event = events[event_id]
        assert event.attempts == 2 and len(attempts[str(event.event_id)]) == 1
    print(
        f"\nkilled with {statuses['processed']} of {len(callbacks)} events processed, "
        f"{statuses['pending']} stored and waiting ({len(interrupted)} of them in the killed worker's hands), "
        f"{answered_at_kill} of {burst.copies} callbacks answered; {burst.failed_posts} posts failed "
        f"while it was down and were retried; everything fulfilled once {recovered:.1f} s after the restart"
    )


# --- 5. one rail's status API down, the others unaffected -----------------------------------------

STUCK = 20  # Stripe events, stored first, that cannot be settled while its status API is down
PROMPT = 10  # M-PESA events stored behind them


def most_at_once(tries: Iterable[ProcessingAttempt]) -> int:
    """The most attempts that were under way at the same moment."""
    edges = sorted(
        edge
        for a in tries
        for edge in ((a.started_at, 1), (a.started_at + timedelta(milliseconds=a.duration_ms), -1))
    )
    under_way = most = 0
    for _, change in edges:  # at a tie an attempt ends before the next begins
        under_way += change
        most = max(most, under_way)
    return most


@pytest.mark.parametrize("outage", ["fails", "hangs"])
def test_a_provider_whose_status_api_fails_or_hangs_does_not_delay_another_rails_callbacks(
    server: str, monkeypatch: pytest.MonkeyPatch, outage: str
) -> None:
    """Stripe's status API answers 500 (~1.5 s a query with the SDK's retries) or
    hangs (cut at the worker's status timeout); its callbacks, stored first, keep
    failing and being retried. M-PESA's callbacks stored behind them are fulfilled
    within seconds, and no rail has more than its limit of events in hand at once."""
    limit = 4
    tune(
        monkeypatch,
        pending_sync_first_seconds="600",  # the inbox alone
        inbox_retry_first_seconds="0.5",
        inbox_retry_max_seconds="2",
        inbox_concurrency_per_provider=str(limit),
        worker_status_timeout_seconds="3",
    )
    hold_back_sandbox_callbacks()
    stripe, mpesa = rail_for("stripe"), rail_for("payhero")
    top_ups, tickets = open_purchases(server, stripe, STUCK), open_purchases(server, mpesa, PROMPT)
    pay_purchases(server, stripe, top_ups)
    pay_purchases(server, mpesa, tickets)
    knob = {"status_error_rate": 1.0} if outage == "fails" else {"status_delay_seconds": 30.0}
    faults.save_faults("stripe", Faults(drop_rate=1.0, **knob))
    stripe_events = {cb.event_id for p in top_ups for cb in p.callbacks}

    asyncio.run(deliver(server, [cb for p in top_ups for cb in p.callbacks], copies=1))
    stored = time.monotonic()
    asyncio.run(deliver(server, [cb for p in tickets for cb in p.callbacks], copies=1))
    wait_for(lambda: all_fulfilled(tickets), timeout=60, what=f"{PROMPT} M-PESA orders fulfilled")
    prompt = time.monotonic() - stored
    assert not any(all_fulfilled([p]) for p in top_ups)
    # Stripe's events were in hand all along, and keep failing.
    wait_for(lambda: failed_attempts("stripe", stripe_events) >= 2 * limit, timeout=30, what="Stripe failing")
    print(
        f"\nStripe's status API {outage}: {PROMPT} M-PESA orders fulfilled {prompt:.2f} s after their "
        f"callbacks followed {STUCK} Stripe ones that kept failing"
    )
    assert prompt < 5

    faults.save_faults("stripe", Faults(drop_rate=1.0))  # the status API is back
    wait_for(lambda: all_fulfilled(top_ups), timeout=90, what=f"{STUCK} Stripe orders fulfilled")
    wait_for(lambda: all_processed(STUCK + PROMPT), timeout=30, what="every stored event processed")
    check_fulfilled_once(stripe, top_ups)
    check_fulfilled_once(mpesa, tickets)
    assert isinstance(stripe, StripeTopUps)
    check_ledger(stripe.user_id, top_ups)
    mpesa_tries = attempts_by_event("payhero")
    assert {tuple(a.outcome for a in tries) for tries in mpesa_tries.values()} == {("ok",)}
    stripe_tries = attempts_by_event("stripe")
    assert {tries[-1].outcome for tries in stripe_tries.values()} == {"ok"}
    for tries in (stripe_tries, mpesa_tries):
        assert 2 <= most_at_once(a for t in tries.values() for a in t) <= limit
