"""One machine: counters, state timeline, power trace, time by state, OEE per hour and per
shift, recent breakdowns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import figures, ids
from dashboard.context import context
from dashboard.data import MachineView, machine_paths, machine_view, range_spec
from dashboard.i18n import t
from dashboard.inputs import header_inputs

dash.register_page(__name__, path="/machine", name="Machine", order=1)


def layout(**_: Any) -> html.Div:
    machines = list(machine_paths(context()))
    return html.Div(
        [
            dcc.Dropdown(
                id=ids.MACHINE_PICK,
                options=machines,
                value=machines[0] if machines else None,
                clearable=False,
            ),
            html.Div(id=ids.MACHINE_MESSAGE, className="message"),
            html.Div(id=ids.MACHINE_COUNTERS, className="counters"),
            dcc.Graph(id=ids.MACHINE_GANTT),
            dcc.Graph(id=ids.MACHINE_POWER),
            dcc.Graph(id=ids.MACHINE_STATES),
            html.H4(id=ids.MACHINE_BY_HOUR + "-title"),
            dcc.Graph(id=ids.MACHINE_BY_HOUR),
            html.H4(id=ids.MACHINE_BY_SHIFT + "-title"),
            dcc.Graph(id=ids.MACHINE_BY_SHIFT),
            html.Div(id=ids.MACHINE_BREAKDOWNS),
        ]
    )


def breakdown_table(view: MachineView, lang: str) -> html.Table:
    ctx = context()
    head = html.Tr(
        [
            html.Th(t("time", lang)),
            html.Th(t("state.down", lang) + " (min)"),
            html.Th(t("reason", lang)),
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(f"{datetime.fromtimestamp(ts / 1000, ctx.tz):%Y-%m-%d %H:%M}"),
                html.Td(f"{minutes:.1f}"),
                html.Td(reason),
            ]
        )
        for ts, minutes, reason in view.breakdowns[:20]
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="breakdowns")


def counters(view: MachineView, lang: str) -> list[html.Span]:
    e = view.entry
    if not e:
        return []
    items = [
        ("oee", f"{t('oee', lang)} {e['oee'] * 100:.1f}%"),
        ("good", f"{t('good', lang)} {e['good_count']}"),
        ("scrap", f"{t('scrap', lang)} {e['scrap_count']}"),
        ("energy", f"{t('energy_kwh', lang)} {e['energy_kwh']:.1f}"),
    ]
    return [html.Span(text, className="counter", **{"data-counter": k}) for k, text in items]


def hour_labels(view: MachineView) -> list[str]:
    tz = context().tz
    return [f"{datetime.fromtimestamp(ts / 1000, tz):%d/%m %H:%M}" for ts, _ in view.by_hour]


@callback(
    Output(ids.MACHINE_COUNTERS, "children"),
    Output(ids.MACHINE_BY_HOUR, "figure"),
    Output(ids.MACHINE_BY_SHIFT, "figure"),
    Output(ids.MACHINE_BY_HOUR + "-title", "children"),
    Output(ids.MACHINE_BY_SHIFT + "-title", "children"),
    Output(ids.MACHINE_GANTT, "figure"),
    Output(ids.MACHINE_POWER, "figure"),
    Output(ids.MACHINE_STATES, "figure"),
    Output(ids.MACHINE_BREAKDOWNS, "children"),
    Output(ids.MACHINE_MESSAGE, "children"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.MACHINE_PICK, "value"),
    *header_inputs()[1:],
)
def refresh(
    _n: int | None,
    machine: str | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Any, ...]:
    lang = lang or "en"
    titles = (t("by_hour", lang), t("by_shift", lang))
    if not machine:
        return None, {}, {}, *titles, {}, {}, {}, None, t("no_machines", lang)
    ctx = context()
    view = machine_view(ctx, machine, range_spec(range_kind, start, end))
    if view.error:
        return None, {}, {}, *titles, {}, {}, {}, None, view.error
    gantt = figures.state_timeline(view.changes, view.t0_ms, view.t1_ms, ctx.tz, machine, lang)
    power = figures.power_trace(view.power, ctx.tz, lang)
    states = figures.time_by_state(view.entry, lang) if view.entry else {}
    by_hour = figures.oee_by_period(hour_labels(view), [e for _, e in view.by_hour], lang)
    by_shift = figures.oee_by_period(
        [figures.shift_label(n, a, ctx.tz) for n, a, _ in view.by_shift],
        [e for _, _, e in view.by_shift],
        lang,
    )
    return (
        counters(view, lang), by_hour, by_shift, *titles,
        gantt, power, states, breakdown_table(view, lang), None,
    )  # fmt: skip
