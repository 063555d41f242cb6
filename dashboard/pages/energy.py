"""Energy: kWh and kWh per good part per line, energy by state, 15-minute demand and its peak."""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback, dcc, html

from dashboard import figures, ids
from dashboard.context import context
from dashboard.data import energy
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from shopfloor import kpi

dash.register_page(__name__, path="/energy", name="Energy", order=3)


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.ENERGY_MESSAGE, className="message"),
            html.Div(id=ids.ENERGY_TABLE),
            dcc.Graph(id=ids.ENERGY_BARS),
            dcc.Graph(id=ids.ENERGY_BY_STATE),
            dcc.Graph(id=ids.ENERGY_PEAK),
        ]
    )


@callback(
    Output(ids.ENERGY_BARS, "figure"),
    Output(ids.ENERGY_BY_STATE, "figure"),
    Output(ids.ENERGY_PEAK, "figure"),
    Output(ids.ENERGY_TABLE, "children"),
    Output(ids.ENERGY_MESSAGE, "children"),
    *header_inputs(),
)
def refresh(_n: int | None, range_kind: str | None, lang: str | None) -> tuple[Any, ...]:
    lang = lang or "en"
    ctx = context()
    data = energy(ctx, range_kind or "current_shift")
    if data.report is None:
        return {}, {}, {}, None, data.error
    plant = data.report["plant"]
    total = sum(data.by_state_kwh.values())
    idle_share = 1 - data.by_state_kwh.get("running", 0.0) / total if total else 0.0
    summary = html.Ul(
        [
            html.Li(
                f"{t('energy_kwh', lang)}: {plant['energy_kwh']:.1f}", **{"data-energy": "total"}
            ),
            html.Li(
                f"{t('kwh_per_good', lang)}: {kpi.kwh_per_good(plant['energy_kwh'], plant['good_count']):.3f}",
                **{"data-energy": "per-good"},
            ),
            html.Li(
                f"{t('not_running', lang)}: {idle_share * 100:.1f}%",
                **{"data-energy": "not-running"},
            ),
            html.Li(
                f"{t('peak_demand', lang)}: {kpi.peak_demand_kw(data.demand_kw):.1f} kW",
                **{"data-energy": "peak"},
            ),
        ]
    )
    return (
        figures.energy_bars(data.report, lang),
        figures.energy_by_state(data.by_state_kwh, lang),
        figures.demand(data.demand_kw, ctx.tz, lang),
        summary,
        None,
    )
