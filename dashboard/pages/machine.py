"""One machine: counters, state timeline, power trace, time by state, OEE per hour and per
shift, recent breakdowns."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import cards, figures, fmt, ids, notices
from dashboard.context import context
from dashboard.data import MachineView, machine_paths, machine_view, range_spec, shift_caption
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from dashboard.spc_figures import imr_chart
from dashboard.spcdata import default_value, spc_view, value_names

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
            # Hidden when there is nothing to draw (a custom range without dates, no data):
            # one message, never a page of empty charts.
            html.Div(
                [
                    html.Div(id=ids.MACHINE_COUNTERS, className="counters"),
                    dcc.Graph(id=ids.MACHINE_GANTT),
                    dcc.Graph(id=ids.MACHINE_POWER),
                    # Hidden when nothing was planned (OEE has no meaning then).
                    html.Div(
                        [
                            dcc.Graph(id=ids.MACHINE_STATES),
                            html.H4(id=ids.MACHINE_BY_HOUR + "-title"),
                            dcc.Graph(id=ids.MACHINE_BY_HOUR),
                            html.H4(id=ids.MACHINE_BY_SHIFT + "-title"),
                            dcc.Graph(id=ids.MACHINE_BY_SHIFT),
                        ],
                        id=ids.MACHINE_OEE_CHARTS,
                    ),
                    html.Div(id=ids.MACHINE_BREAKDOWNS),
                    spc_section(),  # issue 12: a process value's control chart
                ],
                id=ids.MACHINE_CHARTS,
            ),
        ]
    )


def breakdown_table(view: MachineView, lang: str) -> html.Table:
    ctx = context()
    head = html.Tr(
        [
            html.Th(t("time", lang)),
            html.Th(f"{t('state.down', lang)} ({t('unit.min', lang)})"),
            html.Th(t("reason", lang)),
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(fmt.date_time(ts, ctx.tz, lang)),
                html.Td(fmt.number(minutes, lang, 1)),
                html.Td(fmt.reason(reason, lang)),
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
        ("oee", f"{t('oee', lang)} {fmt.percent(e['oee'], lang, 1)}"),
        ("good", f"{t('good', lang)} {fmt.integer(e['good_count'], lang)}"),
        ("scrap", f"{t('scrap', lang)} {fmt.integer(e['scrap_count'], lang)}"),
        ("energy", f"{t('energy_kwh', lang)} {fmt.number(e['energy_kwh'], lang, 1)}"),
    ]
    out = [html.Span(text, className="counter", **{"data-counter": k}) for k, text in items]
    # A legacy machine's counts are inferred and its energy estimated: said beside them.
    if e.get("inferred"):
        out.append(cards.inferred_badge(lang, "align-self-center", cards.inferred_why(e)))
    if e.get("energy_estimated"):
        out.append(cards.energy_note(e, lang))
    return out


SHOW: dict[str, str] = {}
HIDE = {"display": "none"}


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
    Output(ids.MACHINE_CHARTS, "style"),
    Output(ids.MACHINE_OEE_CHARTS, "style"),
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
        return None, {}, {}, *titles, {}, {}, {}, None, t("no_machines", lang), HIDE, HIDE
    ctx = context()
    spec = range_spec(range_kind, start, end)
    view = machine_view(ctx, machine, spec)
    caption = shift_caption(spec, None, ctx)
    if view.error:
        message = notices.message([view.notice or view.error], ctx.tz, lang)
        return None, {}, {}, *titles, {}, {}, {}, None, message, HIDE, HIDE
    message = notices.message([caption, view.notice], ctx.tz, lang)
    gantt = figures.state_timeline(view.changes, view.t0_ms, view.t1_ms, ctx.tz, machine, lang)
    power = figures.power_trace(view.power, ctx.tz, lang, view.t0_ms, view.t1_ms)
    if view.notice is not None:  # nothing planned: the states and power say what happened
        return (
            counters(view, lang), {}, {}, *titles,
            gantt, power, {}, breakdown_table(view, lang), message, SHOW, HIDE,
        )  # fmt: skip
    states = figures.time_by_state(view.entry, lang) if view.entry else {}
    by_hour = figures.oee_by_hour(view.by_hour, view.t0_ms, view.t1_ms, ctx.tz, lang)
    by_shift = figures.oee_by_shift(view.by_shift, ctx.tz, lang)
    return (
        counters(view, lang), by_hour, by_shift, *titles,
        gantt, power, states, breakdown_table(view, lang), message, SHOW, SHOW,
    )  # fmt: skip


# -- a process value's control chart (issue 12, maintenance and wear) -----------------------


def spc_section() -> html.Div:
    return html.Div(
        [
            html.Label(id=ids.MACHINE_SPC_LABEL, htmlFor=ids.MACHINE_SPC_VALUE),
            dcc.Dropdown(id=ids.MACHINE_SPC_VALUE, clearable=False),
            dcc.Graph(id=ids.MACHINE_SPC),
            html.Div(id=ids.MACHINE_SPC_NOTE, className="text-muted small"),
        ],
        id=ids.MACHINE_SPC_SECTION,
    )


@callback(
    Output(ids.MACHINE_SPC_VALUE, "options"),
    Output(ids.MACHINE_SPC_VALUE, "value"),
    Output(ids.MACHINE_SPC_LABEL, "children"),
    Output(ids.MACHINE_SPC_SECTION, "style"),
    Input(ids.MACHINE_PICK, "value"),
    Input(ids.LANG, "value"),
)
def spc_values(machine: str | None, lang: str | None) -> tuple[Any, ...]:
    """The picker offers the machine's process values; it starts on the one its config
    says wears (tool wear, a precursor)."""
    lang = lang or "en"
    ctx = context()
    names = value_names(ctx, machine) if machine else []
    if not names:
        return [], None, t("spc.pick", lang), HIDE
    options = [{"label": fmt.words(n, lang), "value": n} for n in names]
    return options, default_value(ctx, machine or "", names), t("spc.pick", lang), SHOW


@callback(
    Output(ids.MACHINE_SPC, "figure"),
    Output(ids.MACHINE_SPC_NOTE, "children"),
    Output(ids.MACHINE_SPC, "style"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.MACHINE_PICK, "value"),
    Input(ids.MACHINE_SPC_VALUE, "value"),
    *header_inputs()[1:],
)
def spc_refresh(
    _n: int | None,
    machine: str | None,
    name: str | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Any, ...]:
    lang = lang or "en"
    if not machine or not name:
        return {}, t("spc.no_values", lang), HIDE
    ctx = context()
    view = spc_view(ctx, machine, name, range_spec(range_kind, start, end))
    if view.chart is None:
        # A store's error is the page's own message already (refresh above).
        return {}, t("spc.too_few", lang) if view.error == "spc.too_few" else None, HIDE
    fig = imr_chart(view.points, view.chart, name, ctx.tz, lang, view.t0_ms, view.t1_ms)
    note = t("spc.note", lang).format(
        minutes=fmt.integer(view.every_ms // 60_000, lang),
        n=fmt.integer(view.chart.baseline, lang),
    )
    # What the baseline's own points break says the baseline was not in control; the
    # note counts what came after it.
    base = view.chart.baseline
    flagged = [i for i, f in enumerate(view.chart.flags) if f and i >= base]
    if flagged:
        when = fmt.date_time(view.points[flagged[0]][0], ctx.tz, lang)
        count = fmt.integer(len(flagged), lang)
        note += " " + t("spc.first_flag", lang).format(count=count, time=when)
    else:
        note += " " + t("spc.none_flagged", lang)
    return fig, note, SHOW
