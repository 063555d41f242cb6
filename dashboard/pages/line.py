"""The line view: each line drawn as stations and buffers in flow order, each station in its
live state's colour, each buffer with its fill level, the bottleneck of the range marked."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import flow, fmt, ids, notices
from dashboard.context import context
from dashboard.data import range_spec
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from dashboard.linedata import line_order, lines
from shopfloor import clock
from shopfloor.store.base import StoreError

dash.register_page(__name__, path="/line", name="Line", order=2)

ALL = "*"  # the picker's "all lines" value (line ids are config ids: never "*")


def layout(**_: Any) -> html.Div:
    try:
        names = list(line_order(context()))
    except StoreError:
        names = []
    return html.Div(
        [
            dcc.Dropdown(
                id=ids.LINE_PICK,
                options=[*names, {"label": t("line.all"), "value": ALL}],
                value=names[0] if names else ALL,
                clearable=False,
            ),
            html.Div(id=ids.LINE_MESSAGE, className="message"),
            html.Div(id=ids.LINE_UPDATED, className="updated"),
            html.Div(id=ids.LINE_FLOW, className="line-flow"),
            html.P(id=ids.LINE_FLOW + "-note", className="line-note"),
        ]
    )


@callback(
    Output(ids.LINE_FLOW, "children"),
    Output(ids.LINE_MESSAGE, "children"),
    Output(ids.LINE_UPDATED, "children"),
    Output(ids.LINE_FLOW + "-note", "children"),
    Output(ids.LINE_PICK, "options"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.LINE_PICK, "value"),
    *header_inputs()[1:],
)
def refresh(
    _n: int | None,
    pick: str | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Any, ...]:
    lang = lang or "en"
    ctx = context()
    data = lines(ctx, range_spec(range_kind, start, end))
    options = [*(v.line for v in data.lines), {"label": t("line.all", lang), "value": ALL}]
    updated = f"{t('updated', lang)} {fmt.clock_time(clock.now_ms(), ctx.tz, lang, seconds=True)}"
    if data.error:
        message = notices.plain(data.error, lang)
        return None, message, updated, None, options
    shown = [v for v in data.lines if pick in (ALL, v.line)] or data.lines[:1]
    graphs = [
        dcc.Graph(
            id=f"{ids.LINE_FLOW}-{v.line}",
            figure=flow.line_figure(v, lang),
            config={"displayModeBar": False},
        )
        for v in shown
    ]
    return graphs, None, updated, t("line.buffer_note", lang), options
