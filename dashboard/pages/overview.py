"""Plant overview: KPI cards for the plant and each line (target, colour, trend, change against
the previous shift), a live status board, OEE/A/P/Q bars and the table of lines and machines."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import cards, figures, fmt, ids, notices
from dashboard.colors import STATE_COLORS
from dashboard.context import context
from dashboard.data import Overview, overview, range_spec, shift_caption
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from shopfloor import clock, kpi
from shopfloor.config.schema import PlantConfig
from shopfloor.targets import targets_for

dash.register_page(__name__, path="/", name="Overview", order=0)

HEADINGS = (
    (ids.OVERVIEW_HEAD_PLANT, "section.plant"),
    (ids.OVERVIEW_HEAD_LINES, "section.lines"),
    (ids.OVERVIEW_HEAD_STATUS, "section.status"),
    (ids.OVERVIEW_HEAD_TABLE, "section.table"),
)


def layout(**_: Any) -> html.Div:
    def heading(key: str) -> html.H2:
        return html.H2(id=key, className="section-title")

    return html.Div(
        [
            html.Div(id=ids.OVERVIEW_MESSAGE, className="message"),
            html.Div(
                [
                    html.Div(id=ids.OVERVIEW_SHIFT, className="shift-strip"),
                    html.Div(id=ids.OVERVIEW_UPDATED, className="updated ms-auto"),
                ],
                className="d-flex flex-wrap align-items-center gap-3 mb-2",
            ),
            heading(ids.OVERVIEW_HEAD_PLANT),
            html.Div(id=ids.OVERVIEW_CARDS),
            heading(ids.OVERVIEW_HEAD_LINES),
            html.Div(id=ids.OVERVIEW_LINES),
            # The end-of-shift report's section (its own callback fills it).
            html.Div(id=ids.OVERVIEW_REPORTS),
            heading(ids.OVERVIEW_HEAD_STATUS),
            html.Div(id=ids.OVERVIEW_STATUS, className="status-board"),
            dcc.Graph(id=ids.OVERVIEW_KPIS, config={"displaylogo": False}),
            heading(ids.OVERVIEW_HEAD_TABLE),
            html.Div(id=ids.OVERVIEW_TABLE, className="table-responsive"),
        ],
        className="overview",
    )


@callback(*(Output(i, "children") for i, _ in HEADINGS), Input(ids.LANG, "value"))
def headings(lang: str | None) -> tuple[str, ...]:
    return tuple(t(key, lang or "en") for _, key in HEADINGS)


def status_board(data: Overview, lang: str) -> list[html.Span]:
    # Machine ids and reasons are children and attributes (text), which Dash escapes: never HTML.
    return [
        html.Span(
            f"{machine}: {t('state.' + state, lang)}",
            title=fmt.reason(reason, lang),
            className="machine-state",
            **{"data-state": state},
            style={"background": STATE_COLORS.get(state, "#777")},
        )
        for machine, (state, reason) in sorted(data.states.items())
    ]


COLUMNS = (
    "machine", "oee", "availability", "performance", "quality", "good", "target", "scrap",
    "yield", "energy_kwh",
)  # fmt: skip


def _station_scrap(e: dict[str, Any], report: dict[str, Any]) -> dict[str, int]:
    scrap = e.get("station_scrap")
    if scrap is None:
        scrap = {m: report["machines"][m]["scrap_count"] for m in e.get("stations", [])}
    return scrap


def _scrap_cell(kind: str, name: str, e: dict[str, Any], report: dict[str, Any], lang: str):
    """A line's scrap is every station's (what the last station alone scraps hides the rest),
    each station's listed under it."""
    if kind == "plant":
        # Every station's scrap, as the lines' rows show it.
        total = e.get(
            "scrap_all_stations", sum(m["scrap_count"] for m in report["machines"].values())
        )
        return html.Td(
            [fmt.integer(total, lang), _inferred_part(e, "scrap_all_stations", lang)],
            **{"data-kpi": f"{kind}:{name}:scrap"},
        )
    if kind != "line":
        return html.Td(fmt.integer(e["scrap_count"], lang), **{"data-kpi": f"{kind}:{name}:scrap"})
    by_station = _station_scrap(e, report)
    total = e.get("scrap_all_stations", sum(by_station.values()))
    detail = " · ".join(f"{m} {fmt.integer(n, lang)}" for m, n in by_station.items())
    return html.Td(
        [
            html.Div([fmt.integer(total, lang), _inferred_part(e, "scrap_all_stations", lang)]),
            html.Div(detail, className="station-scrap"),
        ],
        title=f"{t('station_scrap', lang)}: {detail}",
        **{"data-kpi": f"{kind}:{name}:scrap"},
    )


def _inferred_part(e: dict[str, Any], field: str, lang: str) -> html.Span | None:
    """A line's or the plant's figure made with a legacy machine's inferred counts."""
    if field not in (e.get("inferred_fields") or ()):
        return None
    return cards.inferred_badge(lang, "inferred-part ms-1", "inferred.part")


def _name_cell(kind: str, name: str, e: dict[str, Any], lang: str) -> html.Td:
    children: list[Any] = [name]
    if kind == "machine" and e.get("inferred"):
        children += [" ", cards.inferred_badge(lang)]
    return html.Td(children, className=f"row-{kind}")


def _energy_cell(e: dict[str, Any], lang: str) -> html.Td:
    children: list[Any] = [fmt.number(e["energy_kwh"], lang, 1)]
    if e.get("energy_estimated"):
        children = [
            html.Span("≈ ", className="estimated-mark", title=t("estimated.title", lang)),
            *children,
        ]
    return html.Td(children)


def kpi_table(data: Overview, lang: str) -> html.Table:
    assert data.report is not None
    report = data.report
    head = html.Tr([html.Th(t(k, lang)) for k in COLUMNS])
    rows = [("plant", t("plant", lang), report["plant"])]
    rows += [("line", f"{t('line', lang)} {lid}", e) for lid, e in report["lines"].items()]
    rows += [("machine", mid, e) for mid, e in report["machines"].items()]
    body = [
        html.Tr(
            [
                _name_cell(kind, name, e, lang),
                *(
                    html.Td(fmt.percent(e[k], lang, 1), **{"data-kpi": f"{kind}:{name}:{k}"})
                    for k in ("oee", "availability", "performance", "quality")
                ),
                html.Td(fmt.integer(e["good_count"], lang)),
                html.Td(
                    fmt.integer(kpi.target_count(e["planned_s"], e["ideal_cycle_s"]), lang),
                    **{"data-kpi": f"{kind}:{name}:target"},
                ),
                _scrap_cell(kind, name, e, report, lang),
                html.Td(
                    [fmt.percent(e["yield"], lang, 1), _inferred_part(e, "yield", lang)]
                    if e.get("yield") is not None
                    else "",
                    **{"data-kpi": f"{kind}:{name}:yield"},
                ),
                _energy_cell(e, lang),
            ],
            className=f"row-{kind}" + (" row-inferred" if e.get("inferred") else ""),
            **({"data-inferred": "true"} if e.get("inferred") else {}),
        )
        for kind, name, e in rows
    ]
    return html.Table(
        [html.Thead(head), html.Tbody(body)],
        className="table table-sm table-hover align-middle kpi-table",
    )


@callback(
    Output(ids.OVERVIEW_KPIS, "figure"),
    Output(ids.OVERVIEW_STATUS, "children"),
    Output(ids.OVERVIEW_TABLE, "children"),
    Output(ids.OVERVIEW_MESSAGE, "children"),
    Output(ids.OVERVIEW_UPDATED, "children"),
    Output(ids.OVERVIEW_SHIFT, "children"),
    Output(ids.OVERVIEW_CARDS, "children"),
    Output(ids.OVERVIEW_LINES, "children"),
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
    spec = range_spec(range_kind, start, end)
    data = overview(ctx, spec)
    return render(data, lang or "en", ctx.tz, ctx.cfg, shift_caption(spec, None, ctx))


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
                f"{label} {t('oee', lang)} {fmt.percent(e['oee'], lang, 1)}",
                className="shift-kpi",
                **{"data-kpi": f"shift:{kind}:{label}:oee"},
            )
            for kind, label, e in rows
        ),
    ]


def render(
    data: Overview,
    lang: str,
    tz: Any,
    cfg: PlantConfig | None = None,
    caption: notices.Notice | None = None,
) -> tuple[Any, ...]:
    """The page's outputs; `caption` says which shift "current shift" shows."""
    updated = f"{t('updated', lang)} {fmt.clock_time(clock.now_s() * 1000, tz, lang, seconds=True)}"
    if data.report is None:
        message = notices.message([data.notice or data.error], tz, lang)
        return {}, status_board(data, lang), None, message, updated, None, None, None
    return (
        figures.kpi_bars(data.report, lang),
        status_board(data, lang),
        kpi_table(data, lang),
        # Nothing planned in the range: the cards read "–", and this says why.
        notices.message([caption, data.notice], tz, lang),
        updated,
        shift_strip(data, lang),
        cards.plant_cards(data, targets_for(cfg), tz, lang),
        cards.line_cards(data, lambda line: targets_for(cfg, line), tz, lang),
    )
