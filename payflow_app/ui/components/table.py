"""A table of state rows, or a line saying there are none."""

from __future__ import annotations

from collections.abc import Sequence

import reflex as rx

from payflow_app.ui.session import tr


def data_table(
    rows: rx.Var, columns: Sequence[tuple[str, str]], *, label_key: str, empty_key: str
) -> rx.Component:
    """``columns`` are (catalogue key of the header, field of each row)."""
    return rx.cond(
        rows.length() > 0,
        rx.el.table(
            rx.el.thead(rx.el.tr(*[rx.el.th(tr(header)) for header, _ in columns])),
            rx.el.tbody(
                rx.foreach(rows, lambda row: rx.el.tr(*[rx.el.td(row[field]) for _, field in columns]))
            ),
            class_name="table",
            aria_label=tr(label_key),
        ),
        rx.el.p(tr(empty_key), class_name="muted"),
    )
