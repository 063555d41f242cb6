"""KPI cards of the overview: OEE, A, P, Q, good parts and kWh per good part of the plant and
of each line, each with its target, a colour for below/near/at-or-above target, a sparkline
over the range and the change of the current shift against the one before it.

Builders only (report entries in, components out); the page's callback fetches. Elements
carry data-* attributes (`data-card`, `data-status`, `data-delta`) that tests find them by.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import fmt
from dashboard.data import Overview, ShiftPair
from dashboard.i18n import t
from dashboard.sparklines import sparkline
from shopfloor import kpi
from shopfloor.targets import LOWER_IS_BETTER, status

RATIOS = ("oee", "availability", "performance", "quality")
# The report's fields (its `inferred_fields`) each card's KPI is made of.
FIELDS = {
    "oee": {"oee"},
    "availability": {"availability"},
    "performance": {"performance"},
    "quality": {"quality"},
    "good": {"good_count"},
    "kwh_per_good_part": {"good_count"},
}
KPIS = (*RATIOS, "good", "kwh_per_good_part")
# Text colours of a KPI against its target (Bootstrap's success, warning and danger shades,
# dark enough to read on white); "none": no target.
STATUS_COLORS = {"above": "#198754", "near": "#b58100", "below": "#dc3545", "none": "#495057"}
TITLES = {
    "oee": "oee",
    "availability": "availability",
    "performance": "performance",
    "quality": "quality",
    "good": "card.good_parts",
    "kwh_per_good_part": "kwh_per_good",
}


def value(entry: dict[str, Any], key: str) -> float | None:
    """The KPI of a report entry; None where it is undefined (no planned time, no good part)."""
    if key in RATIOS:
        return float(entry[key]) if entry["planned_s"] > 0 else None
    if key == "good":
        return float(entry["good_count"])
    return kpi.kwh_per_good(entry["energy_kwh"], entry["good_count"]) or None


def entry_targets(entry: dict[str, Any], targets: dict[str, float | None]) -> dict[str, Any]:
    """The targets, with good parts' own: what the planned time yields at the OEE target."""
    out = dict(targets)
    oee = targets.get("oee")
    ideal_count = kpi.target_count(entry["planned_s"], entry["ideal_cycle_s"])
    out["good"] = ideal_count * oee if oee is not None and entry["planned_s"] > 0 else None
    return out


def show(key: str, v: float | None, lang: str) -> str:
    if v is None:
        return "–"
    if key in RATIOS:
        return fmt.percent(v, lang, 1)
    if key == "good":
        return fmt.integer(v, lang)
    return f"{fmt.number(v, lang, 3)} kWh"


def delta_text(key: str, d: float, lang: str) -> str:
    """+2.1 pts / −35 / +0.012 kWh (percentage points for the ratios)."""
    sign = "+" if d > 0 else "−" if d < 0 else "±"
    if key in RATIOS:
        return f"{sign}{fmt.number(abs(d) * 100, lang, 1)} {t('card.pts', lang)}"
    if key == "good":
        return f"{sign}{fmt.integer(abs(d), lang)}"
    return f"{sign}{fmt.number(abs(d), lang, 3)} kWh"


def delta(
    key: str, path: Callable[[dict[str, Any]], dict[str, Any] | None], pair: ShiftPair | None,
    tz: ZoneInfo, lang: str, card: str,
) -> html.Div | None:  # fmt: skip
    """The change of the current shift against the previous one over the same elapsed time."""
    if pair is None:
        return None
    now, before = path(pair.report), path(pair.before)
    if before is not None and (before["planned_s"] <= 0 or not before["total_count"]):
        # A shift not worked (or nothing of it stored) or that made nothing is no yardstick:
        # "+980 vs shift B" against its zero would read as a gain.
        why = "card.no_prev_worked" if before["planned_s"] <= 0 else "card.no_prev_parts"
        return html.Div(
            t(why, lang).format(
                before=t("card.prev_shift", lang).format(name=pair.before_name)
                if pair.before_name
                else t("card.prev_day", lang)
            ),
            className="kpi-delta delta-none text-muted",
            **{"data-no-delta": card},
        )
    a = value(now, key) if now else None
    b = value(before, key) if before else None
    if a is None or b is None:
        return None
    d = a - b
    better = -d if key in LOWER_IS_BETTER else d
    trend = "up" if better > 1e-12 else "down" if better < -1e-12 else "flat"
    arrow = {"up": "▲", "down": "▼", "flat": "■"}[trend] if d else "■"
    why = t("card.delta_title", lang).format(
        now=pair.name, before=pair.before_name,
        when=fmt.date_time(pair.before_start_ms, tz, lang),
    )  # fmt: skip
    return html.Div(
        [
            html.Span(f"{arrow} {delta_text(key, d, lang)}", **{"data-delta": card}),
            html.Span(
                f" {t('card.vs_shift', lang).format(name=pair.before_name)}".rstrip(),
                className="text-muted",
            ),
        ],
        className=f"kpi-delta delta-{trend}",
        title=why,
    )


def _target_line(key: str, tg: dict[str, Any], lang: str) -> str:
    target = tg.get(key)
    if target is None:
        return t("card.no_target", lang)
    return t("card.target", lang).format(value=show(key, target, lang))


# The hover's value of each KPI as Plotly writes it (d3 format, the page's separators).
HOVER = {
    "oee": "%{y:.1f}%",
    "availability": "%{y:.1f}%",
    "performance": "%{y:.1f}%",
    "quality": "%{y:.1f}%",
    "good": "%{y:,.0f}",
    "kwh_per_good_part": "%{y:,.3f} kWh",
}


def _spark(
    key: str, data: Overview, path: Callable[[dict[str, Any]], dict[str, Any] | None],
    targets: dict[str, float | None], tz: ZoneInfo, lang: str, color: str, title: str,
) -> dcc.Graph:  # fmt: skip
    points = []
    for a, b, report in data.trend:
        e = path(report)
        points.append((a, b, value(e, key) if e else None))
    target = targets.get(key) if key in (*RATIOS, "kwh_per_good_part") else None
    if key in RATIOS:
        # In percent, so the target line and the values share a scale.
        points = [(a, b, None if v is None else v * 100) for a, b, v in points]
        target = None if target is None else target * 100
    return dcc.Graph(
        figure=sparkline(points, tz, lang, color, title, HOVER[key], target),
        config={"displayModeBar": False, "responsive": True},
        className="kpi-spark",
        style={"height": "46px"},
    )


def kpi_card(
    key: str, card: str, entry: dict[str, Any], data: Overview,
    path: Callable[[dict[str, Any]], dict[str, Any] | None],
    targets: dict[str, float | None], tz: ZoneInfo, lang: str,
    note: Any = None,
) -> html.Div:  # fmt: skip
    """One KPI: its value coloured against the target, the target, the change against the
    previous shift and the trend over the range."""
    tg = entry_targets(entry, targets)
    v = value(entry, key)
    state = status(key, v, tg)
    title = t(TITLES[key], lang)
    color = STATUS_COLORS[state]
    notes = [note]
    if FIELDS[key] & set(entry.get("inferred_fields") or ()):
        notes.append(inferred_badge(lang, why=inferred_why(entry)))
    if key == "kwh_per_good_part":
        notes.append(energy_note(entry, lang))
    body = [
        html.Div(
            [html.Span(title, className="kpi-title"), *(n for n in notes if n is not None)],
            className="d-flex justify-content-between align-items-start gap-1",
        ),
        html.Div(
            show(key, v, lang),
            className="kpi-value",
            style={"color": color},
            **{"data-card-value": card},
        ),
        html.Div(
            _target_line(key, tg, lang),
            className="kpi-target",
            title=t(f"status.{state}", lang),
        ),
        delta(key, path, data.shifts, tz, lang, card),
    ]
    body.append(_spark(key, data, path, targets, tz, lang, color, title))
    return html.Div(
        dbc.Card(dbc.CardBody(body), class_name="h-100"),
        className=f"kpi-card kpi-{state}",
        title=t(f"status.{state}", lang),
        **{"data-card": card, "data-status": state},
    )


def energy_note(entry: dict[str, Any], lang: str, short: bool = False) -> html.Span | None:
    """A marker where some of an entry's energy is estimated, not metered, saying how much
    (`short`: a line item's "≈", its word in the tooltip)."""
    kwh = entry.get("energy_estimated_kwh") or 0.0
    if kwh <= 0 and not entry.get("energy_estimated"):
        return None
    return html.Span(
        "≈" if short else t("estimated", lang),
        className="badge rounded-pill text-bg-light border estimated-mark",
        title=t("estimated.part", lang).format(kwh=fmt.number(kwh, lang, 1)),
    )


def plant_cards(
    data: Overview, targets: dict[str, float | None], tz: ZoneInfo, lang: str
) -> dbc.Row:
    assert data.report is not None
    report = data.report

    def plant(r: dict[str, Any]) -> dict[str, Any]:
        return r["plant"]

    cols = []
    for key in KPIS:
        cols.append(
            dbc.Col(
                kpi_card(key, f"plant:{key}", report["plant"], data, plant, targets, tz, lang),
                xs=6,
                md=4,
                xl=2,
                class_name="mb-3",
            )
        )
    return dbc.Row(cols, class_name="g-3")


def kpi_item(
    key: str, card: str, entry: dict[str, Any], targets: dict[str, float | None], lang: str
) -> html.Div:
    """A KPI in a line's card, compactly: its name and its value coloured against the target,
    which the tooltip states (a refresh draws 25 lines x 5 of these on config/large.yaml)."""
    tg = entry_targets(entry, targets)
    v = value(entry, key)
    state = status(key, v, tg)
    notes = []
    if FIELDS[key] & set(entry.get("inferred_fields") or ()):
        notes.append(inferred_badge(lang, why=inferred_why(entry)))
    if key == "kwh_per_good_part":
        notes.append(energy_note(entry, lang, short=True))
    return html.Div(
        [
            html.Span(t(TITLES[key], lang), className="kpi-title"),
            html.Span(
                show(key, v, lang),
                className="kpi-value",
                style={"color": STATUS_COLORS[state]},
                **{"data-card-value": card},
            ),
            *(n for n in notes if n is not None),
        ],
        className=f"line-kpi kpi-{state}",
        title=f"{_target_line(key, tg, lang)} · {t(f'status.{state}', lang)}",
        **{"data-card": card, "data-status": state},
    )


def line_cards(
    data: Overview, targets_of: Callable[[str], dict[str, float | None]], tz: ZoneInfo, lang: str
) -> dbc.Row:
    """One card per line: its OEE with trend and change, then A, P, Q, good parts, kWh per
    good part compactly, and the scrap of all its stations and its yield."""
    assert data.report is not None
    report = data.report
    cols = []
    for lid, entry in report["lines"].items():
        targets = targets_of(lid)

        def path(r: dict[str, Any], lid: str = lid) -> dict[str, Any] | None:
            return r["lines"].get(lid)

        cols.append(
            dbc.Col(
                dbc.Card(
                    [
                        dbc.CardHeader(
                            html.Span(f"{t('line', lang)} {lid}", className="fw-semibold")
                        ),
                        dbc.CardBody(
                            [
                                kpi_card(
                                    "oee", f"line:{lid}:oee", entry, data, path, targets, tz, lang
                                ),
                                html.Div(
                                    [
                                        kpi_item(k, f"line:{lid}:{k}", entry, targets, lang)
                                        for k in KPIS[1:]
                                    ],
                                    className="line-kpis",
                                ),
                                line_flow(entry, report, lang, lid),
                            ]
                        ),
                    ],
                    class_name="line-card h-100",
                ),
                md=6,
                xxl=4,
                class_name="mb-3",
            )
        )
    return dbc.Row(cols, class_name="g-3")


def line_flow(entry: dict[str, Any], report: dict[str, Any], lang: str, lid: str) -> html.Div:
    """Scrap of every station and the line's yield from its first to its last station."""
    scrap_all = entry.get("scrap_all_stations")
    if scrap_all is None:
        scrap_all = sum(report["machines"][m]["scrap_count"] for m in entry.get("stations", []))
    line_yield = entry.get("yield")
    inferred = {"scrap_all_stations", "yield"} & set(entry.get("inferred_fields") or ())
    parts = [
        html.Span(
            f"{t('scrap_all', lang)}: {fmt.integer(scrap_all, lang)}",
            **{"data-line-scrap": lid},
        )
    ]
    if line_yield is not None:
        parts.append(
            html.Span(
                f"{t('yield', lang)}: {fmt.percent(line_yield, lang, 1)}",
                **{"data-line-yield": lid},
                title=t("yield.title", lang),
            )
        )
    if inferred:
        parts.append(inferred_badge(lang, "inferred-in-line", "inferred.part"))
    return html.Div(parts, className="line-flow d-flex flex-wrap gap-3 small mt-2")


def inferred_why(entry: dict[str, Any]) -> str:
    """Why a legacy machine's figures are inferred: its cycles counted from its power peaks
    (a stroke meter, issue 12) or its ideal cycle assumed."""
    return "inferred.counted.title" if entry.get("cycles_counted") else "inferred.title"


def inferred_badge(lang: str, extra: str = "", why: str = "inferred.title") -> html.Span:
    """The marker of a KPI inferred from a power meter (a legacy machine), with why."""
    return html.Span(
        t("inferred", lang),
        className=f"badge rounded-pill text-bg-warning inferred-mark {extra}".strip(),
        title=t(why, lang),
    )
