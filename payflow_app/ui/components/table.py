"""Tables of state rows. Every table scrolls sideways on a narrow screen, so it is
reachable from the keyboard and named for it (:func:`scroll_table`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import reflex as rx

from payflow_app.ui.session import tr

Text = rx.Var | str


def scroll_table(
    headers: Sequence[Text],
    rows: rx.Var,
    row: Callable[[rx.Var], rx.Component],
    *,
    label: Text,
    actions: Text | None = None,
) -> rx.Component:
    """A table of ``rows``, each made by ``row`` (a ``tr``), under ``headers``.

    ``label`` names it: it is also the keyboard's way to scroll it (``tab_index`` 0),
    and a focusable element needs a name. ``actions`` heads a last column of buttons,
    for screen readers only (the buttons say what they do)."""
    cells = [rx.el.th(header) for header in headers]
    if actions is not None:
        cells.append(rx.el.th(rx.el.span(actions, class_name="sr-only")))
    return rx.el.table(
        rx.el.thead(rx.el.tr(*cells)),
        rx.el.tbody(rx.foreach(rows, row)),
        class_name="table",
        aria_label=label,
        tab_index=0,  # it scrolls sideways on a phone: reachable from the keyboard
    )


def data_table(
    rows: rx.Var,
    columns: Sequence[tuple[str, str]],
    *,
    label_key: str,
    empty_key: str,
    text: Callable[[str], Text] = tr,
) -> rx.Component:
    """A :func:`scroll_table` of plain cells, or a line saying there are none.
    ``columns`` are (catalogue key of the header, field of each row). ``text`` turns
    a key into what is shown: the tab's language; pass ``str`` for English-only pages
    (organizers, operators), where the keys are the texts."""
    return rx.cond(
        rows.length() > 0,
        scroll_table(
            [text(header) for header, _ in columns],
            rows,
            lambda row: rx.el.tr(*[rx.el.td(row[field]) for _, field in columns]),
            label=text(label_key),
        ),
        rx.el.p(text(empty_key), class_name="muted"),
    )
