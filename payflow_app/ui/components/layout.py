"""The page shell: sandbox banner, header and a centred column."""

from __future__ import annotations

import reflex as rx

from payflow_app.settings import get_settings
from payflow_app.ui import routes


def sandbox_banner() -> rx.Component:
    return rx.el.div("Sandbox — no real money", class_name="sandbox-banner", role="status")


def page(*children: rx.Component, title: str | None = None) -> rx.Component:
    return rx.el.div(
        sandbox_banner() if get_settings().sandbox_enabled else rx.fragment(),
        rx.el.header(
            rx.el.a("payflow", href=routes.EVENTS, class_name="brand"),
            rx.el.nav(rx.el.a("Events", href=routes.EVENTS)),
            class_name="site-header",
        ),
        rx.el.main(
            rx.el.h1(title) if title else rx.fragment(),
            *children,
            class_name="content",
        ),
    )


def notice(text: rx.Var | str, *, tone: str = "info") -> rx.Component:
    return rx.el.div(text, class_name=f"notice notice-{tone}", role="alert" if tone == "error" else "status")


def message_panel(
    title: str, text: str | None = None, *, action: str | None = None, href: rx.Var | str = ""
) -> rx.Component:
    """A full-page message: what happened, and the one thing to do next."""
    return rx.el.div(
        rx.el.h1(title),
        rx.el.p(text) if text else rx.fragment(),
        rx.el.a(action, href=href, class_name="button") if action else rx.fragment(),
    )
