"""Losses: downtime Pareto by state and reason, starvation by cause (upstream, no material, no
order), the ISO 22400 time waterfall, each line's bottleneck."""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback, dcc, html

from dashboard import figures, ids, notices, supply_figures
from dashboard.context import context
from dashboard.data import losses, range_spec, shift_caption
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from shopfloor.supply import by_cause

dash.register_page(__name__, path="/losses", name="Losses", order=2)


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.LOSSES_MESSAGE, className="message"),
            # Hidden behind a notice (nothing planned, a custom range without dates, no data):
            # one message, never empty charts.
            html.Div(
                [
                    dcc.Graph(id=ids.LOSSES_PARETO),
                    dcc.Graph(id=ids.LOSSES_STARVATION),  # issue 12: by cause
                    dcc.Graph(id=ids.LOSSES_WATERFALL),
                    html.Div(id=ids.LOSSES_BOTTLENECKS),
                ],
                id=ids.LOSSES_CHARTS,
            ),
        ]
    )


@callback(
    Output(ids.LOSSES_PARETO, "figure"),
    Output(ids.LOSSES_STARVATION, "figure"),
    Output(ids.LOSSES_WATERFALL, "figure"),
    Output(ids.LOSSES_BOTTLENECKS, "children"),
    Output(ids.LOSSES_MESSAGE, "children"),
    Output(ids.LOSSES_CHARTS, "style"),
    *header_inputs(),
)
def refresh(
    _n: int | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Any, ...]:
    lang = lang or "en"
    ctx = context()
    spec = range_spec(range_kind, start, end)
    data = losses(ctx, spec)
    caption = shift_caption(spec, None, ctx)
    if data.report is None:
        items = [caption, data.notice] if data.error is None else [data.notice or data.error]
        return {}, {}, {}, None, notices.message(items, ctx.tz, lang), {"display": "none"}
    rows = [
        html.Tr([html.Td(f"{t('line', lang)} {lid}"), html.Td(station, **{"data-bottleneck": lid})])
        for lid, station in data.bottlenecks.items()
    ]
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th(t("line", lang)), html.Th(t("bottleneck", lang))])),
            html.Tbody(rows),
        ]
    )
    return (
        figures.pareto(data.pareto, lang),
        supply_figures.starvation(by_cause(data.pareto), lang),
        figures.waterfall(data.report["plant"], lang),
        table,
        notices.message([caption], ctx.tz, lang),
        {},
    )
