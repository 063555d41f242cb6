"""Plant overview: OEE, A, P, Q for the plant and each line, a live status board, counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
from dash import Output, callback, dcc, html

from dashboard import figures, ids
from dashboard.colors import STATE_COLORS
from dashboard.context import context
from dashboard.data import Overview, overview, range_spec
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from shopfloor import clock, kpi

dash.register_page(__name__, path="/", name="Overview", order=0)


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.OVERVIEW_MESSAGE, className="message"),
            html.Div(id=ids.OVERVIEW_UPDATED, className="updated"),
            html.Div(id=ids.OVERVIEW_STATUS, className="status-board"),
            html.Div(id=ids.OVERVIEW_SHIFT, className="shift-strip"),
            dcc.Graph(id=ids.OVERVIEW_KPIS),
            html.Div(id=ids.OVERVIEW_TABLE),
        ]
    )


def status_board(data: Overview, lang: str) -> list[html.Span]:
    # Machine ids and reasons are children (text), which Dash escapes: never HTML.
    return [
        html.Span(
            f"{machine}: {t('state.' + state, lang)}",
            title=reason,
            className="machine-state",
            **{"data-state": state},
            style={
                "background": STATE_COLORS.get(state, "#777"),
                "color": "white",
                "padding": "2px 6px",
                "margin": "2px",
                "display": "inline-block",
            },
        )
        for machine, (state, reason) in sorted(data.states.items())
    ]


def kpi_table(data: Overview, lang: str) -> html.Table:
    assert data.report is not None
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in (
                "machine",
                "oee",
                "availability",
                "performance",
                "quality",
                "good",
                "target",
                "scrap",
                "energy_kwh",
            )
        ]
    )
    rows = [("plant", t("plant", lang), data.report["plant"])]
    rows += [("line", f"{t('line', lang)} {lid}", e) for lid, e in data.report["lines"].items()]
    rows += [("machine", mid, e) for mid, e in data.report["machines"].items()]
    body = [
        html.Tr(
            [
                html.Td(name),
                *(
                    html.Td(f"{e[k] * 100:.1f}%", **{"data-kpi": f"{kind}:{name}:{k}"})
                    for k in ("oee", "availability", "performance", "quality")
                ),
                html.Td(str(e["good_count"])),
                html.Td(
                    str(kpi.target_count(e["planned_s"], e["ideal_cycle_s"])),
                    **{"data-kpi": f"{kind}:{name}:target"},
                ),
                html.Td(str(e["scrap_count"])),
                html.Td(f"{e['energy_kwh']:.1f}"),
            ]
        )
        for kind, name, e in rows
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="kpi-table")


@callback(
    Output(ids.OVERVIEW_KPIS, "figure"),
    Output(ids.OVERVIEW_STATUS, "children"),
    Output(ids.OVERVIEW_TABLE, "children"),
    Output(ids.OVERVIEW_MESSAGE, "children"),
    Output(ids.OVERVIEW_UPDATED, "children"),
    Output(ids.OVERVIEW_SHIFT, "children"),
    *header_inputs(),
)
def refresh(
    _n: int | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Any, ...]:
    ctx = context()
    return render(overview(ctx, range_spec(range_kind, start, end)), lang or "en", ctx.tz)


def shift_strip(data: Overview, lang: str) -> list[html.Span] | None:
    """The current shift's OEE, kept in view while another range is chosen."""
    if data.shift is None:
        return None
    name, report = data.shift
    rows = [("plant", t("plant", lang), report["plant"])]
    rows += [("line", lid, e) for lid, e in report["lines"].items()]
    return [
        html.Span(
            f"{t('range.current_shift', lang)} {name}:".replace(" :", ":"), className="shift-title"
        ),
        *(
            html.Span(
                f"{label} {t('oee', lang)} {e['oee'] * 100:.1f}%",
                className="shift-kpi",
                **{"data-kpi": f"shift:{kind}:{label}:oee"},
            )
            for kind, label, e in rows
        ),
    ]


def render(data: Overview, lang: str, tz: Any) -> tuple[Any, ...]:
    updated = f"{t('updated', lang)} {datetime.fromtimestamp(clock.now_s(), tz):%H:%M:%S}"
    if data.report is None:
        return {}, status_board(data, lang), None, data.error, updated, None
    return (
        figures.kpi_bars(data.report, lang),
        status_board(data, lang),
        kpi_table(data, lang),
        None,
        updated,
        shift_strip(data, lang),
    )
