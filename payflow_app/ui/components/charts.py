"""Bar charts drawn with CSS (no chart library): a list of {label, value, width} rows
made by :func:`bars` from (label, number) pairs and drawn by :func:`bar_chart`."""

from __future__ import annotations

import reflex as rx


def bars(
    pairs: list[tuple[str, float]], unit: str = "", *, shown: list[str] | None = None
) -> list[dict[str, str]]:
    """Widths relative to the largest value; ``shown`` replaces the printed values
    (e.g. formatted money) when given."""
    top = max((value for _label, value in pairs), default=0.0) or 1.0
    return [
        {
            "label": label,
            "value": shown[i] if shown else f"{value:g}{unit}",
            "width": f"{max(1.0, 100 * value / top):.1f}%" if value else "0%",
        }
        for i, (label, value) in enumerate(pairs)
    ]


def bar_chart(title: str, rows: rx.Var, *, empty: str = "No data in the last 24 hours.") -> rx.Component:
    return rx.el.section(
        rx.el.h2(title),
        rx.cond(
            rows.length() > 0,
            rx.el.div(
                rx.foreach(
                    rows,
                    lambda b: rx.el.div(
                        rx.el.span(b["label"], class_name="bar-label"),
                        rx.el.span(class_name="bar", style={"width": b["width"]}),
                        rx.el.span(b["value"], class_name="bar-value"),
                        class_name="bar-row",
                    ),
                ),
                class_name="bar-chart",
                role="img",
                aria_label=title,
            ),
            rx.el.p(empty, class_name="muted"),
        ),
    )
