"""``/organizer/events/<id>``: the event's dashboard — until when its tickets admit
people, tickets sold and remaining per type, revenue per day, orders by status, the
payment rails used, check-ins over time (pushed live: every check-in at any gate
re-reads the figures), the check-in list, and the scanning devices (issue a token,
shown once; revoke one)."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.core.inputs import whole_number
from payflow_app.core.money import exponent, format_money
from payflow_app.live.bus import bus
from payflow_app.models import Event, pk
from payflow_app.services.accounts import sessions
from payflow_app.services.organizer import events
from payflow_app.services.organizer import stats as event_stats
from payflow_app.services.tickets import checkin, devices
from payflow_app.services.tickets.tokens import valid_until
from payflow_app.settings import get_settings
from payflow_app.ui.components.charts import chart, chart_grid, chart_rows, count_rows, named_series
from payflow_app.ui.components.layout import form_field, notice, page
from payflow_app.ui.components.organizer import (
    acting_on_event,
    event_gone,
    event_tabs,
    guarded,
    open_event,
)
from payflow_app.ui.components.table import data_table, scroll_table
from payflow_app.ui.session import SessionState

REFRESH_AT_MOST_EVERY_SECONDS = 1.0


def _chart_view(stats: event_stats.EventStats) -> dict[str, object]:
    """The charts' rows: revenue in major units (the axis and tooltip read 12.50, not
    1250), the tables in formatted money."""
    scale = 10 ** exponent(stats.currency)
    money = lambda amount: format_money(amount, stats.currency)  # noqa: E731
    return {
        "currency": stats.currency,
        "revenue_chart": count_rows(
            [(day.isoformat(), amount / scale) for day, amount in stats.revenue_per_day],
            [money(amount) for _, amount in stats.revenue_per_day],
        ),
        "types_chart": chart_rows(
            [t.name for t in stats.types],
            {
                "sold": [t.sold for t in stats.types],
                "held": [t.held for t in stats.types],
                "remaining": [t.remaining for t in stats.types],
            },
        ),
        "status_chart": count_rows(sorted(stats.orders_by_status.items())),
        "rail_chart": count_rows(
            [(provider, n) for provider, n, _ in stats.rails],
            [f"{n} · {money(amount)}" for _, n, amount in stats.rails],
        ),
        "checkin_chart": count_rows([(f"{moment:%H:%M}", n) for moment, n in stats.checkins]),
    }


def event_dashboard_view(event: Event) -> dict[str, object]:
    """Every figure of the page, read in one go (off the event loop)."""
    stats = event_stats.event_stats(pk(event), event.currency)
    money = lambda amount: format_money(amount, event.currency)  # noqa: E731
    grace = get_settings().ticket_valid_hours_after_start
    return {
        "valid_until": f"Tickets valid until {valid_until(event.starts_at):%Y-%m-%d %H:%M} UTC "
        f"({grace:g} h after the start; QR codes and ticket numbers admit nobody after that)",
        "figures": [
            {"label": "Tickets sold", "value": str(stats.tickets_sold)},
            {"label": "Revenue", "value": money(stats.revenue_minor)},
            {"label": "Checked in", "value": f"{stats.checked_in} of {stats.tickets_sold}"},
        ],
        "types": [
            {
                "name": t.name,
                "price": money(t.price_minor),
                "sold": str(t.sold),
                "held": str(t.held),
                "remaining": str(t.remaining),
                "capacity": str(t.capacity),
                "checked_in": str(t.checked_in),
            }
            for t in stats.types
        ],
        **_chart_view(stats),
        "check_ins": [
            {
                "number": c.ticket_number,
                "holder": c.holder,
                "type": c.ticket_type,
                "gate": c.gate,
                "operator": c.operator,
                "at": c.scanned_at.strftime("%Y-%m-%d %H:%M:%S"),
            }
            for c in event_stats.check_ins(pk(event), limit=100)
        ],
        "devices": [
            {
                "id": str(pk(d)),
                "name": d.name,
                "state": "revoked" if d.revoked_at else "active",
                "seen": d.last_seen_at.strftime("%Y-%m-%d %H:%M") if d.last_seen_at else "never",
            }
            for d in devices.devices(pk(event))
        ],
    }


class EventDashboardState(rx.State):
    allowed: bool = False
    refused: bool = False
    missing: bool = False
    event_id: str = ""
    title: str = ""
    when: str = ""
    valid_until: str = ""
    figures: list[dict[str, str]] = []
    types: list[dict[str, str]] = []
    currency: str = ""
    revenue_chart: list[dict[str, str | float]] = []
    types_chart: list[dict[str, str | float]] = []
    status_chart: list[dict[str, str | float]] = []
    rail_chart: list[dict[str, str | float]] = []
    checkin_chart: list[dict[str, str | float]] = []
    check_ins: list[dict[str, str]] = []
    devices: list[dict[str, str]] = []
    device_errors: dict[str, str] = {}
    issued_token: str = ""  # shown once, right after issuing
    issued_name: str = ""
    message: str = ""

    def _show(self, view: dict[str, object]) -> None:
        for name, value in view.items():
            setattr(self, name, value)

    @rx.event
    async def load(self):
        self.issued_token = self.issued_name = self.message = ""
        self.device_errors = {}
        opened = await open_event(self)
        if not isinstance(opened, tuple):
            return opened
        _, event = opened
        self.when = event.starts_at.strftime("%Y-%m-%d %H:%M UTC") + " · " + event.venue
        self._show(await asyncio.to_thread(event_dashboard_view, event))
        return None

    @rx.event(background=True)
    async def watch(self):
        """Re-read the figures at every check-in of this event, whichever gate made it."""
        async with self:
            token = (await self.get_state(SessionState)).session_token()
            params = self.router.page.params
        user = await asyncio.to_thread(sessions.session_user, token)
        event_id = whole_number(params.get("event_id", ""), minimum=1)
        if user is None or event_id is None:
            return
        try:
            event = await asyncio.to_thread(events.event_of, user, event_id)
        except DomainError:
            return
        async with bus.watch(checkin.checkins_topic(pk(event))) as changes:
            while True:
                await changes.wait()
                # A busy gate checks in several people a second: one re-read for them all.
                await asyncio.sleep(REFRESH_AT_MOST_EVERY_SECONDS)
                changes.clear()
                view = await asyncio.to_thread(event_dashboard_view, event)
                async with self:
                    self._show(view)

    @rx.event
    async def issue_device(self, data: dict[str, str]):
        acting = await acting_on_event(self)
        if acting is None:
            return await event_gone(self)
        user, event = acting
        self.device_errors, self.issued_token = {}, ""
        try:
            issued = await asyncio.to_thread(
                devices.issue_device, user, event_id=pk(event), name=data.get("name", "")
            )
        except InvalidInput as exc:
            self.device_errors = exc.errors
            return
        self.issued_token, self.issued_name = issued.token, issued.name
        self._show(await asyncio.to_thread(event_dashboard_view, event))

    @rx.event
    async def revoke_device(self, device_id: str):
        acting = await acting_on_event(self)
        if acting is None:
            return await event_gone(self)
        user, event = acting
        device = whole_number(device_id, minimum=1)
        if device is None:
            return None
        try:
            revoked = await asyncio.to_thread(
                devices.revoke_device, user, event_id=pk(event), device_id=device
            )
        except DomainError as exc:
            self.message = exc.message
            return
        self.message = (
            "Device revoked: its token no longer checks anyone in." if revoked else "Already revoked."
        )
        self._show(await asyncio.to_thread(event_dashboard_view, event))


def _devices() -> rx.Component:
    S = EventDashboardState
    return rx.el.section(
        rx.el.h2("Scanning devices"),
        rx.el.ul(
            rx.el.li(
                rx.el.strong("Gate name: "),
                "where a device scans, such as “North entrance” — the check-in list shows it beside each scan.",
            ),
            rx.el.li(
                rx.el.strong("Device token: "),
                "the password a scanning phone or handheld uses to check tickets in for this event only; "
                "type it into the device once, as it is shown only when issued.",
            ),
            class_name="definitions",
        ),
        rx.el.p(
            "For scanner apps: POST /api/checkin with the token; tickets can be verified offline with "
            "/.well-known/jwks.json and the scans uploaded later.",
            class_name="muted small",
        ),
        rx.cond(
            S.issued_token != "",
            rx.el.div(
                rx.el.p("Token of ", rx.el.strong(S.issued_name), " — copy it now, it is not shown again:"),
                rx.el.code(S.issued_token, class_name="token", id="device-token"),
                class_name="notice",
                role="status",
            ),
        ),
        scroll_table(
            ["Gate", "State", "Last seen"],
            S.devices,
            lambda d: rx.el.tr(
                rx.el.td(d["name"]),
                rx.el.td(d["state"]),
                rx.el.td(d["seen"]),
                rx.el.td(
                    rx.cond(
                        d["state"] == "active",
                        rx.el.button(
                            "Revoke",
                            type="button",
                            on_click=S.revoke_device(d["id"]),
                            class_name="button secondary small",
                        ),
                    )
                ),
            ),
            label="Devices",
            actions="Actions",
        ),
        rx.el.form(
            form_field(
                "Gate name",
                "name",
                rx.el.input(id="device-name", name="name"),
                S.device_errors,
                control_id="device-name",
            ),
            rx.el.button("Issue a device token", type="submit", class_name="button secondary small"),
            on_submit=S.issue_device,
            reset_on_submit=True,
            no_validate=True,
            aria_label="New device",
        ),
    )


def _charts() -> rx.Component:
    S = EventDashboardState
    return chart_grid(
        chart(
            "organizer.chart.checkins",
            S.checkin_chart,
            kind="line",
            label_key="chart.col.time",
            series="organizer.chart.checked_in",
            empty_key="organizer.chart.no_checkins",
            chart_id="chart-checkins",
        ),
        chart(
            "organizer.chart.revenue",
            S.revenue_chart,
            label_key="chart.col.day",
            series="organizer.chart.revenue_series",
            empty_key="organizer.chart.no_sales",
            unit=" " + S.currency,
            chart_id="chart-revenue",
        ),
        chart(
            "organizer.chart.types",
            S.types_chart,
            label_key="chart.col.ticket_type",
            series=named_series(
                ("sold", "organizer.chart.sold"),
                ("held", "organizer.chart.held"),
                ("remaining", "organizer.chart.remaining"),
            ),
            stacked=True,
            empty_key="organizer.chart.no_types",
            chart_id="chart-types",
        ),
        chart(
            "organizer.chart.statuses",
            S.status_chart,
            label_key="chart.col.status",
            series="organizer.chart.orders",
            empty_key="organizer.chart.no_orders",
            chart_id="chart-statuses",
        ),
        chart(
            "organizer.chart.rails",
            S.rail_chart,
            label_key="chart.col.provider",
            series="organizer.chart.payments",
            empty_key="organizer.chart.no_payments",
            chart_id="chart-rails",
        ),
    )


def organizer_event_page() -> rx.Component:
    S = EventDashboardState
    body = rx.el.div(
        event_tabs(S.event_id),
        rx.el.h1(S.title),
        rx.el.p(S.when, class_name="muted"),
        rx.el.p(S.valid_until, class_name="muted"),
        rx.cond(S.message != "", notice(S.message)),
        rx.el.div(
            rx.foreach(
                S.figures,
                lambda f: rx.el.div(
                    rx.el.div(f["label"], class_name="muted"),
                    rx.el.div(f["value"], class_name="figure"),
                    class_name="card",
                ),
            ),
            class_name="figures",
        ),
        rx.el.h2("Tickets"),
        data_table(
            S.types,
            [
                ("Type", "name"),
                ("Price", "price"),
                ("Sold", "sold"),
                ("Held for payment", "held"),
                ("Remaining", "remaining"),
                ("Capacity", "capacity"),
                ("Checked in", "checked_in"),
            ],
            label_key="Tickets per type",
            empty_key="No ticket types yet.",
            text=str,
        ),
        _charts(),
        rx.el.h2("Check-ins"),
        data_table(
            S.check_ins,
            [
                ("Time (UTC)", "at"),
                ("Ticket", "number"),
                ("Holder", "holder"),
                ("Type", "type"),
                ("Gate", "gate"),
                ("Operator", "operator"),
            ],
            label_key="Check-ins",
            empty_key="Nobody is checked in yet.",
            text=str,
        ),
        _devices(),
    )
    return page(guarded(S.allowed, S.refused, S.missing, body))
