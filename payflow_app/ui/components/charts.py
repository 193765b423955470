"""Charts of the organizer's and the operators' figures, drawn by Recharts
(``rx.recharts``): axes, a tooltip, one or more series, in a container that follows
the page's width. Each chart is a figure named by its caption, and its numbers are
also a table for screen readers (the drawing itself is hidden from them: an SVG of
bars reads as nothing).

Rows are made by :func:`chart_rows` (or :func:`count_rows` for a chart of one series):
``{"label": …, <series>: number, <series>_text: what the table shows}`` for every
series of the chart. Pages put their charts side by side with :func:`chart_grid`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import reflex as rx

from payflow_app.ui.session import tr

HEIGHT_PX = 260
# Colours of the series, in order; readable on white and told apart without colour
# by the table and the tooltip's names.
PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626")
Row = dict[str, str | float]


@dataclass(frozen=True)
class Series:
    key: str  # the field of each row
    name: rx.Var | str  # legend, tooltip, table header: tr("…"), or a brand's name


def named_series(*keys: tuple[str, str]) -> list[Series]:
    """Series from (field of each row, catalogue key of its name) pairs."""
    return [Series(key, tr(name_key)) for key, name_key in keys]


def chart_rows(
    labels: Sequence[str],
    values: dict[str, Sequence[float]],
    texts: dict[str, Sequence[str]] | None = None,
) -> list[Row]:
    """Rows for a chart: ``values`` holds each series' numbers in ``labels``' order;
    ``texts`` what the table shows instead of a series' plain numbers (e.g. money)."""
    rows: list[Row] = []
    for i, label in enumerate(labels):
        row: Row = {"label": label}
        for key, numbers in values.items():
            row[key] = numbers[i]
            row[f"{key}_text"] = texts[key][i] if texts and key in texts else f"{numbers[i]:g}"
        rows.append(row)
    return rows


def count_rows(counts: Iterable[tuple[str, float]], texts: Sequence[str] | None = None) -> list[Row]:
    """Rows of a chart of one series (``value``): (label, number) pairs, in order;
    ``texts`` what the table shows instead of the plain numbers."""
    pairs = list(counts)
    labels, values = [label for label, _ in pairs], [value for _, value in pairs]
    return chart_rows(labels, {"value": values}, {"value": texts} if texts is not None else None)


def _numbers_table(caption_key: str, label_key: str, rows: rx.Var, series: Sequence[Series]) -> rx.Component:
    # Hidden by a wrapper: a table ignores the width and overflow that hide a block.
    return rx.el.div(
        rx.el.table(
            rx.el.caption(tr(caption_key)),
            rx.el.thead(rx.el.tr(rx.el.th(tr(label_key)), *[rx.el.th(s.name) for s in series])),
            rx.el.tbody(
                rx.foreach(
                    rows,
                    lambda row: rx.el.tr(
                        rx.el.th(row["label"], scope="row"), *[rx.el.td(row[f"{s.key}_text"]) for s in series]
                    ),
                )
            ),
        ),
        class_name="sr-only",
    )


def _drawing(
    kind: str, rows: rx.Var, series: Sequence[Series], unit: rx.Var | str, stacked: bool
) -> rx.Component:
    marks = [
        rx.recharts.bar(
            data_key=s.key,
            name=s.name,
            fill=PALETTE[i % len(PALETTE)],
            stack_id="stack" if stacked else None,
            unit=unit,
            is_animation_active=False,
        )
        if kind == "bar"
        else rx.recharts.line(
            data_key=s.key,
            name=s.name,
            stroke=PALETTE[i % len(PALETTE)],
            type_="monotone",
            stroke_width=2,
            unit=unit,
            is_animation_active=False,
        )
        for i, s in enumerate(series)
    ]
    make = rx.recharts.bar_chart if kind == "bar" else rx.recharts.line_chart
    return make(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="label", tick={"fontSize": 12}, min_tick_gap=8),
        rx.recharts.y_axis(allow_decimals=False, tick={"fontSize": 12}, width=48),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend() if len(series) > 1 else rx.fragment(),
        *marks,
        data=rows,
        height=HEIGHT_PX,
        margin={"top": 8, "right": 12, "bottom": 4, "left": 0},
        # Recharts' keyboard layer makes the SVG a focusable "application": the
        # table below already gives every number, so the drawing stays out of the way.
        custom_attrs={"accessibilityLayer": False},
    )


def chart(
    caption_key: str,
    rows: rx.Var,
    *,
    kind: str = "bar",
    label_key: str,
    series: Sequence[Series] | str,
    empty_key: str,
    unit: rx.Var | str = "",
    stacked: bool = False,
    chart_id: str,
) -> rx.Component:
    """A captioned chart of ``rows`` (bars, side by side or ``stacked``; or lines),
    or the ``empty_key`` sentence when there are none. ``label_key`` heads the
    table's first column; ``chart_id`` names the figure in tests and links. A chart
    of :func:`count_rows` names its one series by a catalogue key (``series``)."""
    if isinstance(series, str):
        series = [Series("value", tr(series))]
    return rx.el.figure(
        rx.el.figcaption(tr(caption_key), class_name="chart-caption"),
        rx.cond(
            rows.length() > 0,
            rx.fragment(
                rx.el.div(
                    _drawing(kind, rows, series, unit, stacked), class_name="chart", aria_hidden="true"
                ),
                _numbers_table(caption_key, label_key, rows, series),
            ),
            rx.el.p(tr(empty_key), class_name="muted"),
        ),
        id=chart_id,
        class_name="chart-figure",
    )


def chart_grid(*charts: rx.Component) -> rx.Component:
    """Charts side by side, as many to a row as the page's width takes."""
    return rx.el.div(*charts, class_name="charts")
