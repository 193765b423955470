"""A table of state rows, or a line saying there are none."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import reflex as rx

from payflow_app.ui.session import tr


def data_table(
    rows: rx.Var,
    columns: Sequence[tuple[str, str]],
    *,
    label_key: str,
    empty_key: str,
    text: Callable[[str], rx.Var | str] = tr,
) -> rx.Component:
    """``columns`` are (catalogue key of the header, field of each row). ``text`` turns
    a key into what is shown: the tab's language; pass ``str`` for English-only pages
    (organizers, operators), where the keys are the texts."""
    return rx.cond(
        rows.length() > 0,
        rx.el.table(
            rx.el.thead(rx.el.tr(*[rx.el.th(text(header)) for header, _ in columns])),
            rx.el.tbody(
                rx.foreach(rows, lambda row: rx.el.tr(*[rx.el.td(row[field]) for _, field in columns]))
            ),
            class_name="table",
            aria_label=text(label_key),
            tab_index=0,  # it scrolls sideways on a phone: reachable from the keyboard
        ),
        rx.el.p(text(empty_key), class_name="muted"),
    )
