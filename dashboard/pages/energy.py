"""Energy: kWh and kWh per good part per line, energy by state, 15-minute demand and its
peak, cost under the config's time-of-use tariff, CO2e, and the trend across shifts."""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback, dcc, html

from dashboard import figures, fmt, ids, notices
from dashboard.context import DashContext, context
from dashboard.data import Energy, energy, range_notice, range_spec, shift_caption, window_ms
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from dashboard.notices import no_planned
from shopfloor import kpi, tariff

dash.register_page(__name__, path="/energy", name="Energy", order=3)


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.ENERGY_MESSAGE, className="message"),
            # Hidden behind a message (a custom range without dates, no data): never four
            # empty charts.
            html.Div(
                [
                    html.Div(id=ids.ENERGY_SUMMARY),
                    html.Div(id=ids.ENERGY_TABLE),
                    dcc.Graph(id=ids.ENERGY_BARS),
                    dcc.Graph(id=ids.ENERGY_BY_STATE),
                    dcc.Graph(id=ids.ENERGY_PEAK),
                    dcc.Graph(id=ids.ENERGY_SHIFTS),
                ],
                id=ids.ENERGY_CHARTS,
            ),
        ]
    )


def summary(data: Energy, ctx: DashContext, lang: str) -> html.Ul:
    assert data.report is not None
    plant = data.report["plant"]
    total = sum(data.by_state_kwh.values())
    idle_share = 1 - data.by_state_kwh.get("running", 0.0) / total if total else 0.0
    per_good = kpi.kwh_per_good(plant["energy_kwh"], plant["good_count"])
    items = [
        ("total", f"{t('energy_kwh', lang)}: {fmt.number(plant['energy_kwh'], lang, 1)}"),
        ("per-good", f"{t('kwh_per_good', lang)}: {fmt.number(per_good, lang, 3)}"),
        ("not-running", f"{t('not_running', lang)}: {fmt.percent(idle_share, lang, 1)}"),
        ("peak", f"{t('peak_demand', lang)}: {fmt.number(kpi.peak_demand_kw(data.demand_kw), lang, 1)} kW"),
    ]  # fmt: skip
    energy_cfg = ctx.cfg.energy if ctx.cfg else None
    if energy_cfg and energy_cfg.tariff:
        tf = energy_cfg.tariff
        by = tariff.kwh_by_period((q for rows in data.line_kwh.values() for q in rows), tf, ctx.tz)
        items.append(
            ("cost", f"{t('cost', lang)}: {fmt.money(tariff.cost(by, tf), tf.currency, lang)}")
        )
        items += [
            (
                f"period-{p}",
                f"{t('period', lang)} {fmt.words(p, lang)}: {fmt.number(kwh, lang, 1)} kWh × "
                f"{fmt.money(tf.price_per_kwh[p], tf.currency, lang)}",
            )
            for p, kwh in by.items()
        ]
    if energy_cfg and energy_cfg.co2e_kg_per_kwh is not None:
        co2 = tariff.co2e_kg(plant["energy_kwh"], energy_cfg) or 0.0
        items.append(("co2e", f"{t('co2e', lang)}: {fmt.number(co2, lang, 1)} kg"))
    return html.Ul([html.Li(text, **{"data-energy": key}) for key, text in items])


def line_table(data: Energy, ctx: DashContext, lang: str) -> html.Table:
    """Each line, then each station: kWh, kWh per good part, cost and CO2e."""
    assert data.report is not None
    energy_cfg = ctx.cfg.energy if ctx.cfg else None
    tf = energy_cfg.tariff if energy_cfg else None
    head = [
        f"{t('line', lang)} / {t('machine', lang)}",
        t("energy_kwh", lang),
        t("kwh_per_good", lang),
    ]
    if tf:
        head.append(f"{t('cost', lang)} ({tf.currency})")
    if energy_cfg and energy_cfg.co2e_kg_per_kwh is not None:
        head.append(t("co2e", lang) + " (kg)")
    entries = [("line", lid, e, data.line_kwh) for lid, e in data.report["lines"].items()]
    entries += [("machine", mid, e, data.machine_kwh) for mid, e in data.report["machines"].items()]
    rows = []
    for kind, name, e, quarters in entries:
        kwh: Any = fmt.number(e["energy_kwh"], lang, 1)
        if e.get("energy_estimated"):  # a legacy machine's, from its power: marked as overview
            mark = html.Span("≈ ", className="estimated-mark", title=t("estimated.title", lang))
            kwh = [mark, kwh]
        cells = [
            name,
            kwh,
            fmt.number(kpi.kwh_per_good(e["energy_kwh"], e["good_count"]), lang, 3),
        ]
        if tf:
            by = tariff.kwh_by_period(quarters.get(name, []), tf, ctx.tz)
            cells.append(fmt.number(tariff.cost(by, tf), lang, 0))
        if energy_cfg and energy_cfg.co2e_kg_per_kwh is not None:
            cells.append(fmt.number(tariff.co2e_kg(e["energy_kwh"], energy_cfg) or 0.0, lang, 1))
        rows.append(html.Tr([html.Td(c) for c in cells], **{f"data-{kind}": name}))
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="kpi-table"
    )


@callback(
    Output(ids.ENERGY_BARS, "figure"),
    Output(ids.ENERGY_BY_STATE, "figure"),
    Output(ids.ENERGY_PEAK, "figure"),
    Output(ids.ENERGY_SHIFTS, "figure"),
    Output(ids.ENERGY_SUMMARY, "children"),
    Output(ids.ENERGY_TABLE, "children"),
    Output(ids.ENERGY_MESSAGE, "children"),
    Output(ids.ENERGY_CHARTS, "style"),
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
    bad_range = range_notice(ctx, spec)
    if bad_range is not None:
        return {}, {}, {}, {}, None, None, notices.message([bad_range], ctx.tz, lang), HIDE
    data = energy(ctx, spec)
    if data.report is None:
        return {}, {}, {}, {}, None, None, notices.message([data.error], ctx.tz, lang), HIDE
    t0_ms, t1_ms = window_ms(ctx, spec, None)
    # Machines draw power off shift too, so the page stays, with the notice above it.
    idle = no_planned(t1_ms, ctx.calendar) if data.report["plant"]["planned_s"] <= 0 else None
    return (
        figures.energy_bars(data.report, lang),
        figures.energy_by_state(data.by_state_kwh, lang),
        figures.demand(data.demand_kw, ctx.tz, lang, t0_ms, t1_ms),
        figures.energy_by_shift(data.shifts, ctx.tz, lang),
        summary(data, ctx, lang),
        line_table(data, ctx, lang),
        notices.message([shift_caption(spec, None, ctx), idle], ctx.tz, lang),
        {},
    )


HIDE = {"display": "none"}
