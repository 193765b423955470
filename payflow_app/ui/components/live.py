"""Following one order live from a page's background task: re-read when the status
bus announces a change (once for a burst of them), ask the provider when nothing came
for a while, and give up after a bound (a closed tab must not keep a task forever).

And never showing one order's state on another order's page. A page state lives as
long as the tab: after one payment the next order page in the same tab starts from
the previous payment's values. Resetting in ``on_load`` is too late — a full page
load first receives the whole stored state (the hydrate snapshot) and renders it,
and a client-side navigation renders the new page with the state already in memory,
both before any ``on_load`` handler runs. So each order page's state says which
reference it holds (``shown_for``, set together with the reset, in one delta) and
the page renders its content only while that equals the reference in the browser's
own address bar, read in the render by React Router's ``useLocation`` — never the
server's idea of the route, which is just as stale until the hydrate."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

import reflex as rx
from reflex.vars import VarData
from reflex_base.utils.imports import ImportVar

from payflow_app.live.bus import bus
from payflow_app.services import notify, payments
from payflow_app.services.status import OrderSnapshot, order_snapshot
from payflow_app.ui.components.layout import message_panel
from payflow_app.ui.session import tr

log = logging.getLogger(__name__)
# A tab stops following after this long; a reload starts again.
FOLLOW_FOR_SECONDS = 30 * 60
_LOCATION = "payflowLocation"
_USE_LOCATION = VarData(
    imports={"react-router": [ImportVar(tag="useLocation")]},
    hooks={f"const {_LOCATION} = useLocation();": None},
)


def address_query(name: str) -> rx.Var[str]:
    """A query parameter of the address the browser shows now ('' when absent)."""
    return rx.Var(
        _js_expr=f'(new URLSearchParams({_LOCATION}.search).get({json.dumps(name)}) ?? "")',
        _var_type=str,
        _var_data=_USE_LOCATION,
    )


def address_last_segment() -> rx.Var[str]:
    """The last path segment of the address the browser shows now (a route's ``[param]``)."""
    return rx.Var(
        # React Router's pathname is still percent-encoded; a malformed one stays as it is.
        _js_expr=(
            f"((segment) => {{ try {{ return decodeURIComponent(segment); }} catch {{ return segment; }} }})"
            f'({_LOCATION}.pathname.replace(/\\/+$/, "").split("/").pop() ?? "")'
        ),
        _var_type=str,
        _var_data=_USE_LOCATION,
    )


def only_for_address(shown_for: rx.Var, address_reference: rx.Var, content: rx.Component) -> rx.Component:
    """``content`` while the state holds the order the address names; else "Loading…"."""
    return rx.cond(
        shown_for == address_reference,
        content,
        rx.el.p(tr("success.loading"), class_name="muted"),
    )


def card_payment_view(shown_for: rx.Var, phase: rx.Var, body: rx.Component) -> rx.Component:
    """A card payment's page (return, success, cancel): "Loading…", "Payment not found"
    or ``body`` — only ever for the payment the address's ``paymentId`` names."""
    return only_for_address(
        shown_for,
        address_query("paymentId"),
        rx.match(
            phase,
            ("loading", rx.el.p(tr("success.loading"), class_name="muted")),
            ("not_found", message_panel(tr("card.not_found"), tr("card.not_found_text"))),
            body,
        ),
    )


async def verify_quietly(payment_id: int) -> None:
    """Ask the provider and apply its answer; a failure only means waiting longer."""
    try:
        await payments.verify_payment(payment_id=payment_id)
    except Exception:
        log.warning("verification of payment %s failed", payment_id, exc_info=True)


async def follow_order(
    order_id: int,
    *,
    show: Callable[[OrderSnapshot], Awaitable[None]],
    verify_payment_id: int | None = None,
    verify_after: float = 3.0,
    delayed_after: float | None = None,
    on_delayed: Callable[[], Awaitable[None]] | None = None,
    linger_after_close: float = 0.0,
) -> OrderSnapshot:
    """Show every new snapshot of the order until it is settled (fulfilled or closed)
    and answer the last one. When nothing happened for ``verify_after`` seconds the
    provider is asked once (the webhook may be late); after ``delayed_after`` seconds
    ``on_delayed`` runs once and the page keeps following. A closed order is followed
    ``linger_after_close`` seconds more: a late callback may still name the reason a
    status query could not (``payments.close_payment``)."""
    started = time.monotonic()
    closed_at: float | None = None
    verified = verify_payment_id is None
    delayed = delayed_after is None
    async with bus.watch(notify.order_topic(order_id)) as changes:
        while True:
            snap = await asyncio.to_thread(order_snapshot, order_id, with_qr=False)
            assert snap is not None
            await show(snap)
            if snap.is_processed:
                return snap
            if snap.is_closed:
                closed_at = closed_at or time.monotonic()
                lingering = linger_after_close - (time.monotonic() - closed_at)
                if lingering > 0 and await changes.wait(timeout=lingering):
                    continue
                return snap
            elapsed = time.monotonic() - started
            if elapsed > FOLLOW_FOR_SECONDS:
                return snap
            deadlines = [FOLLOW_FOR_SECONDS - elapsed]
            if not verified:
                deadlines.append(verify_after - elapsed)
            if not delayed and delayed_after is not None:
                deadlines.append(delayed_after - elapsed)
            if await changes.wait(timeout=max(0.0, min(deadlines))):
                continue  # one re-read for every change since the last one
            elapsed = time.monotonic() - started
            if not verified and elapsed >= verify_after and verify_payment_id is not None:
                verified = True
                await verify_quietly(verify_payment_id)
            if not delayed and delayed_after is not None and elapsed >= delayed_after:
                delayed = True
                if on_delayed is not None:
                    await on_delayed()
