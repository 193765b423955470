"""The page shell: sandbox banner, header (navigation, account, language) and a
centred column."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.states import OutboxStatus
from payflow_app.emails.outbox import OutboxView
from payflow_app.i18n import LANGUAGES, t
from payflow_app.settings import get_settings
from payflow_app.ui.session import SessionState, tr


def sandbox_banner() -> rx.Component:
    return rx.el.div(tr("layout.sandbox"), class_name="sandbox-banner", role="status")


def _language_switch() -> rx.Component:
    return rx.el.div(
        *[
            rx.el.button(
                name,
                type="button",
                lang=code,
                on_click=SessionState.switch_language(code),
                class_name=rx.cond(SessionState.lang == code, "lang lang-active", "lang"),
                aria_pressed=rx.cond(SessionState.lang == code, "true", "false"),
            )
            for code, name in LANGUAGES.items()
        ],
        class_name="lang-switch",
        role="group",
        aria_label="Language / Język",
    )


def _account() -> rx.Component:
    return rx.cond(
        SessionState.signed_in,
        rx.el.div(
            rx.el.span(SessionState.user_name, class_name="account-name"),
            rx.el.button(tr("nav.log_out"), type="button", on_click=SessionState.log_out, class_name="link"),
            class_name="account",
        ),
        rx.el.a(tr("nav.log_in"), href=urls.LOGIN),
    )


def _navigation() -> rx.Component:
    return rx.el.nav(
        rx.el.a(tr("nav.events"), href=urls.EVENTS),
        rx.el.a(tr("nav.membership"), href=urls.MEMBERSHIP),
        rx.el.a(tr("nav.my_tickets"), href=urls.MY_TICKETS),
        rx.el.a(tr("nav.dashboard"), href=urls.DASHBOARD),
        rx.cond(
            (SessionState.user_role == "organizer") | (SessionState.user_role == "admin"),
            rx.el.a("My events", href=urls.ORGANIZER),
        ),
        rx.cond(SessionState.user_role == "admin", rx.el.a("Operations", href=urls.ADMIN)),
        class_name="nav",
        aria_label=tr("nav.main"),
    )


def _header_items() -> list[rx.Component]:
    return [_navigation(), _account(), _language_switch()]


def site_header() -> rx.Component:
    """On a wide screen every item in one row; on a narrow one the brand and a
    "Menu" disclosure. The menu is a ``<details>``: the browser opens and closes it
    and tells assistive technology whether it is expanded, with no script of ours,
    and it starts closed on every page. The stylesheet shows one of the two copies
    of the items at a time (``display: none`` keeps the other out of the
    accessibility tree, so each link and button is there once)."""
    return rx.el.header(
        rx.el.a("payflow", href=urls.EVENTS, class_name="brand"),
        rx.el.div(*_header_items(), class_name="header-wide"),
        rx.el.details(
            rx.el.summary(tr("nav.menu"), class_name="menu-button"),
            rx.el.div(*_header_items(), class_name="menu-panel"),
            class_name="header-menu",
        ),
        class_name="site-header",
    )


def page(*children: rx.Component, title: rx.Var | str | None = None) -> rx.Component:
    return rx.el.div(
        sandbox_banner() if get_settings().sandbox_enabled else rx.fragment(),
        site_header(),
        rx.el.main(
            rx.el.h1(title) if title is not None else rx.fragment(),
            *children,
            class_name="content",
        ),
    )


def notice(text: rx.Var | str, *, tone: str = "info") -> rx.Component:
    return rx.el.div(text, class_name=f"notice notice-{tone}", role="alert" if tone == "error" else "status")


def message_panel(
    title: rx.Var | str,
    text: rx.Var | str | None = None,
    *,
    action: rx.Var | str | None = None,
    href: rx.Var | str = "",
) -> rx.Component:
    """A full-page message: what happened, and the one thing to do next."""
    return rx.el.div(
        rx.el.h1(title),
        rx.el.p(text) if text is not None else rx.fragment(),
        rx.el.a(action, href=href, class_name="button") if action is not None else rx.fragment(),
    )


def steps_list(steps: rx.Var, *, label: rx.Var | str) -> rx.Component:
    """Processing steps, each ``{"label", "state"}`` with state done | pending."""

    def step(item: rx.Var) -> rx.Component:
        done = item["state"] == "done"
        return rx.el.li(
            rx.el.span(rx.cond(done, "✓", "…"), class_name="step-mark", aria_hidden="true"),
            rx.el.span(item["label"]),
            rx.el.span(rx.cond(done, " — ✓", " — …"), class_name="sr-only"),
            class_name=rx.cond(done, "step step-done", "step"),
            data_state=item["state"],
        )

    return rx.el.ol(rx.foreach(steps, step), class_name="steps", aria_label=label)


def form_field(
    label: rx.Var | str, name: str, control: rx.Component, errors: rx.Var, *, control_id: str = ""
) -> rx.Component:
    """A labelled control with its error (``errors`` maps field names to messages);
    ``control_id``: the control's id when it is not the field's name."""
    return rx.el.div(
        rx.el.label(label, html_for=control_id or name),
        control,
        rx.cond(
            errors.contains(name),
            rx.el.p(errors[name], class_name="field-error", id=f"{name}-error"),
        ),
        class_name="field",
    )


def buyer_fields(buyer: rx.Var, errors: rx.Var) -> rx.Component:
    """Name and email for a guest; "Buying as …" for a signed-in customer."""
    return rx.cond(
        buyer != "",
        rx.el.p(tr("checkout.buying_as"), " ", rx.el.strong(buyer), class_name="muted"),
        rx.fragment(
            form_field(
                tr("checkout.full_name"),
                "full_name",
                rx.el.input(id="full_name", name="full_name", auto_complete="name"),
                errors,
            ),
            form_field(
                tr("checkout.email"),
                "email",
                rx.el.input(id="email", name="email", type="email", auto_complete="email"),
                errors,
            ),
        ),
    )


def step_items(steps: Iterable[tuple[str, bool]], lang: str) -> list[dict[str, str]]:
    """A snapshot's (key, done) steps as :func:`steps_list` shows them."""
    return [{"label": t(lang, f"steps.{key}"), "state": "done" if done else "pending"} for key, done in steps]


def email_items(
    emails: Iterable[OutboxView], lang: str, *, mask: Callable[[str], str] = str
) -> list[dict[str, str]]:
    """An order's emails as :func:`emails_section` shows them."""
    return [
        {
            "subject": e.subject,
            "language": e.language,
            "to": mask(e.recipient),
            "status": e.status,
            "state": t(
                lang, "success.email_sent" if e.status == OutboxStatus.SENT else "success.email_queued"
            ),
        }
        for e in emails
    ]


def emails_section(emails: rx.Var) -> rx.Component:
    """ "Emails we sent you": subject, recipient and whether it left yet."""
    return rx.cond(
        emails.length() > 0,
        rx.el.section(
            rx.el.h2(tr("success.emails")),
            rx.el.ul(
                rx.foreach(
                    emails,
                    lambda e: rx.el.li(
                        # In the email's language, which may not be the page's.
                        rx.el.strong(e["subject"], lang=e["language"]),
                        " — ",
                        e["to"],
                        " · ",
                        e["state"],
                    ),
                ),
                class_name="emails",
            ),
        ),
    )


def ticket_next_steps() -> rx.Component:
    """What a customer with new tickets does next."""
    return rx.el.section(
        rx.el.h2(tr("success.next_steps")),
        rx.el.p(tr("success.next_steps_text")),
        rx.el.div(
            rx.el.a(tr("success.view_tickets"), href=urls.MY_TICKETS, class_name="button"),
            rx.el.a(tr("success.browse_more"), href=urls.EVENTS, class_name="button secondary"),
            class_name="actions",
        ),
    )


def redirect_overlay() -> rx.Component:
    """Shown at once when a purchase is confirmed, until the next page loads."""
    return rx.el.div(
        rx.el.div(
            rx.el.div(class_name="spinner"), rx.el.p(tr("checkout.redirecting")), class_name="overlay-box"
        ),
        class_name="overlay",
        role="status",
    )


def labelled_file_input(upload: rx.Component, label: str) -> rx.Component:
    """``rx.upload`` with an accessible name on the file input it hides inside (its
    own props never reach that input; the button beside it is what people use)."""
    stack = [upload]
    while stack:
        component = stack.pop()
        if getattr(component, "tag", None) == "input":
            component.custom_attrs["aria-label"] = label
        stack.extend(component.children)
    return upload
