"""Never showing one order's state on another order's page (the following itself is
:func:`payflow_app.live.follow.follow_order`). A page state lives as
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

import json
from collections.abc import Awaitable, Callable

import reflex as rx
from reflex.vars import VarData
from reflex_base.utils.imports import ImportVar

from payflow_app.ui.components.layout import message_panel
from payflow_app.ui.session import tr

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


def mark_delayed(state: rx.State) -> Callable[[], Awaitable[None]]:
    """``on_delayed`` of :func:`payflow_app.live.follow.follow_order` for a page state
    (in its background task) whose ``delayed`` var says the wait is longer than usual."""

    async def delayed() -> None:
        async with state:
            state.delayed = True

    return delayed
