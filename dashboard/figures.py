"""Figure builders: pure functions from KPI data to Plotly figures (no store access, no Dash).

Callbacks fetch, shopfloor's KPI math computes, these draw. Text from telemetry (machine ids,
reasons) goes into figures as data, which Plotly renders as text, never as HTML.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard import fmt
from dashboard.colors import STATE_COLORS
from dashboard.i18n import t
from shopfloor import kpi
from shopfloor.store.meter_rollup import QUARTER_MS

# Every chart has a title and units, and every time axis says the plant's time zone and
# carries Babel's labels, thinned to a readable number of ticks (issue 10).
_TITLE_MARGIN = {"t": 56, "b": 40}


def _titled(fig: go.Figure, key: str, lang: str) -> go.Figure:
    fig.update_layout(
        title={"text": t(key, lang), "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        separators=fmt.separators(lang),
    )
    return fig


def _local_iso(ts_ms: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz).isoformat()


def time_axis(t0_ms: float, t1_ms: float, tz: ZoneInfo, lang: str) -> dict[str, Any]:
    """A date axis over [t0, t1] in the plant's local time: its zone in the title, at most
    eight ticks labelled in the page's language (a week of hours is not 168 labels)."""
    vals, texts = fmt.time_ticks(t0_ms, t1_ms, tz, lang)
    return {
        "type": "date",
        "title": {"text": t("axis.time_tz", lang).format(tz=fmt.zone(tz, lang))},
        "tickmode": "array",
        "tickvals": vals,
        "ticktext": texts,
        # Digits only: Plotly's month and weekday names are English whatever the page's.
        "hoverformat": "%d/%m/%Y %H:%M",
        "range": [_local_iso(t0_ms, tz), _local_iso(t1_ms, tz)],
    }


def kpi_bars(report: dict[str, Any], lang: str = "en") -> go.Figure:
    """OEE, availability, performance and quality of the plant and each line, in percent."""
    rows = [(t("plant", lang), report["plant"])] + [(lid, e) for lid, e in report["lines"].items()]
    fig = go.Figure()
    for key in ("oee", "availability", "performance", "quality"):
        fig.add_bar(
            name=t(key, lang),
            x=[name for name, _ in rows],
            y=[round(e[key] * 100, 1) for _, e in rows],
        )
    fig.update_layout(
        barmode="group", yaxis={"title": "%", "range": [0, 105]}, margin=_TITLE_MARGIN
    )
    return _titled(fig, "chart.kpi_bars", lang)


def state_timeline(
    changes: list[tuple[int, str, str]],
    t0_ms: int,
    t1_ms: int,
    tz: ZoneInfo,
    machine: str,
    lang: str = "en",
) -> go.Figure:
    """A Gantt of one machine's states over [t0, t1), one bar per interval, in local time."""
    fig = go.Figure()
    by_state: dict[str, list[tuple[int, int, str]]] = {}
    for i, (ts, state, reason) in enumerate(changes):
        start = max(ts, t0_ms)
        end = min(changes[i + 1][0] if i + 1 < len(changes) else t1_ms, t1_ms)
        if end > start:
            by_state.setdefault(state, []).append((start, end, reason))
    for state in kpi.STATES:
        spans = by_state.get(state)
        if not spans:
            continue
        fig.add_bar(
            name=t(f"state.{state}", lang),
            orientation="h",
            y=[machine] * len(spans),
            base=[datetime.fromtimestamp(s / 1000, tz).isoformat() for s, _, _ in spans],
            x=[e - s for s, e, _ in spans],
            customdata=[fmt.reason(r, lang) for _, _, r in spans],
            hovertemplate="%{customdata}<extra>%{fullData.name}</extra>",
            marker_color=STATE_COLORS[state],
        )
    fig.update_layout(
        barmode="overlay", xaxis=time_axis(t0_ms, t1_ms, tz, lang), margin=_TITLE_MARGIN
    )
    return _titled(fig, "chart.state_timeline", lang)


def power_trace(
    samples: list[tuple[int, float]],
    tz: ZoneInfo,
    lang: str = "en",
    t0_ms: float | None = None,
    t1_ms: float | None = None,
) -> go.Figure:
    """Power in kW over the range (bucketed means), on the plant's local time axis."""
    fig = go.Figure(
        go.Scatter(
            x=[datetime.fromtimestamp(ts / 1000, tz).isoformat() for ts, _ in samples],
            y=[p for _, p in samples],
            mode="lines",
            name=t("power_kw", lang),
        )
    )
    a = t0_ms if t0_ms is not None else (samples[0][0] if samples else 0)
    b = t1_ms if t1_ms is not None else (samples[-1][0] if samples else a + 3_600_000)
    fig.update_layout(
        yaxis={"title": t("power_kw", lang), "rangemode": "nonnegative"},
        xaxis=time_axis(a, b, tz, lang),
        margin=_TITLE_MARGIN,
    )
    return _titled(fig, "chart.power", lang)


def time_by_state(entry: dict[str, Any], lang: str = "en") -> go.Figure:
    """Hours per state of one report entry, in the state colours (losses at a glance)."""
    states = [s for s in kpi.STATES if entry.get(f"{s}_s", 0) > 0]
    fig = go.Figure(
        go.Bar(
            x=[t(f"state.{s}", lang) for s in states],
            y=[round(entry[f"{s}_s"] / 3600, 2) for s in states],
            marker_color=[STATE_COLORS[s] for s in states],
        )
    )
    fig.update_layout(yaxis={"title": t("hours", lang)}, margin=_TITLE_MARGIN)
    return _titled(fig, "chart.time_by_state", lang)


def pareto(items: list[tuple[str, str, float]], lang: str = "en", top: int = 15) -> go.Figure:
    """Downtime hours by state and reason, largest first, with the cumulative share."""
    shown = items[:top]
    total = sum(h for _, _, h in items) or 1.0
    cumulative: list[float] = []
    running = 0.0
    for _, _, h in shown:
        running += h
        cumulative.append(round(running / total * 100, 1))
    labels = [f"{t('state.' + s, lang)}: {fmt.reason(r, lang)}" for s, r, _ in shown]
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=[round(h, 2) for _, _, h in shown],
        marker_color=[STATE_COLORS[s] for s, _, _ in shown],
        name=t("hours", lang),
    )
    fig.add_scatter(
        x=labels, y=cumulative, yaxis="y2", mode="lines+markers", name=t("cumulative_share", lang)
    )
    fig.update_layout(
        yaxis={"title": t("hours", lang), "rangemode": "nonnegative"},
        # Whole tens of percent: Plotly.js 3 syncs an overlaying axis's ticks to the hours
        # axis (16.1, 32.2, ...). The legend goes above the plot: at the right it covered the
        # share axis's labels.
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "title": "%",
            "tickmode": "array",
            "tickvals": [0, 20, 40, 60, 80, 100],
            "showgrid": False,
        },
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        xaxis={"automargin": True},
        margin={"t": 56, "b": 120},
    )
    return _titled(fig, "chart.pareto", lang)


def waterfall(entry: dict[str, Any], lang: str = "en") -> go.Figure:
    """ISO 22400 time model: scheduled -> planned busy -> run -> effective -> good time (h)."""
    scheduled = sum(entry[f"{s}_s"] for s in kpi.STATES) - entry["off_s"]
    planned = entry["planned_s"]
    run = entry["running_s"]
    effective = entry["ideal_cycle_s"] * entry["total_count"]
    good = entry["ideal_cycle_s"] * entry["good_count"]
    h = [
        v / 3600
        for v in (
            scheduled,
            planned - scheduled,
            run - planned,
            effective - run,
            good - effective,
            good,
        )
    ]
    fig = go.Figure(
        go.Waterfall(
            x=[
                t(k, lang)
                for k in (
                    "wf.scheduled",
                    "wf.planned_stops",
                    "wf.availability_loss",
                    "wf.performance_loss",
                    "wf.quality_loss",
                    "wf.good",
                )
            ],
            y=[round(v, 2) for v in h],
            measure=["absolute", "relative", "relative", "relative", "relative", "total"],
        )
    )
    fig.update_layout(yaxis={"title": t("hours", lang)}, margin={"t": 56, "b": 60})
    return _titled(fig, "chart.waterfall", lang)


def _nice_step(x: float) -> float:
    """The smallest round step (1, 2, 2.5 or 5 times a power of ten) at or above x."""
    if x <= 0:
        return 1.0
    exp = math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if x <= m * 10**exp * (1 + 1e-9):
            return m * 10**exp
    return 10.0 ** (exp + 1)  # pragma: no cover (10 covers every x)


def two_axes(
    left: list[float], right: list[float], lang: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ticks of a chart's axis and of the one overlaid at its right, both from zero in the same
    number of round steps (so their grid lines coincide) and labelled by dashboard.fmt in the
    page's language. Left to Plotly.js, an overlaying axis's ticks follow the left one's
    grid: 0.40593, 0.4061, 0.40627 kWh per part, a scale not starting at zero."""
    tops = [max((v for v in vals if v is not None), default=0.0) for vals in (left, right)]
    best: tuple[float, int, list[float]] | None = None
    for n in (4, 5, 6):
        steps = [_nice_step(top / n) for top in tops]
        waste = max(s * n / top if top > 0 else 1.0 for s, top in zip(steps, tops, strict=True))
        if best is None or waste < best[0] - 1e-9:
            best = (waste, n, steps)
    assert best is not None
    _, n, steps = best
    axes = []
    for step in steps:
        exp = math.floor(math.log10(step))
        decimals = max(0, -exp + (1 if round(step / 10**exp, 6) == 2.5 else 0))
        vals = [round(i * step, decimals + 6) for i in range(n + 1)]
        axes.append(
            {
                "range": [0, n * step],
                "tickmode": "array",
                "tickvals": vals,
                "ticktext": [fmt.decimal(v, lang, decimals) for v in vals],
            }
        )
    return axes[0], axes[1]


# The legend above the plot, at its right: beside it, it covered the right axis's labels.
_TOP_LEGEND = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}


def energy_bars(report: dict[str, Any], lang: str = "en") -> go.Figure:
    """kWh and kWh per good part of each line (scrap's energy counts against good parts)."""
    lines = list(report["lines"].items())
    fig = go.Figure()
    kwh = [round(e["energy_kwh"], 1) for _, e in lines]
    per_good = [round(kpi.kwh_per_good(e["energy_kwh"], e["good_count"]), 3) for _, e in lines]
    fig.add_bar(x=[lid for lid, _ in lines], y=kwh, name=t("energy_kwh", lang))
    fig.add_scatter(
        x=[lid for lid, _ in lines], y=per_good,
        yaxis="y2", mode="markers", marker={"size": 12}, name=t("kwh_per_good", lang),
    )  # fmt: skip
    # Both from zero (kWh and kWh per part are never negative; Plotly's autorange centred a
    # lone small value's axis on zero), in round steps.
    left, right = two_axes(kwh, per_good, lang)
    fig.update_layout(
        yaxis={"title": t("energy_kwh", lang), **left},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": t("axis.kwh_per_good", lang),
            "showgrid": False,
            **right,
        },
        legend=_TOP_LEGEND,
        margin=_TITLE_MARGIN,
    )
    return _titled(fig, "chart.energy_bars", lang)


def energy_by_state(by_state_kwh: dict[str, float], lang: str = "en") -> go.Figure:
    """Shares of energy by machine state. Small slices' labels would overlap: each slice
    shows only its percentage, inside it and hidden when it does not fit; the legend names
    the states and the hover gives the kWh."""
    states = [s for s in kpi.STATES if by_state_kwh.get(s, 0) > 0]
    fig = go.Figure(
        go.Pie(
            labels=[t(f"state.{s}", lang) for s in states],
            values=[round(by_state_kwh[s], 2) for s in states],
            marker={"colors": [STATE_COLORS[s] for s in states]},
            sort=False,
            textinfo="percent",
            textposition="inside",
            insidetextorientation="horizontal",
            hovertemplate="%{label}: %{value} kWh (%{percent})<extra></extra>",
        )
    )
    fig.update_layout(uniformtext={"minsize": 11, "mode": "hide"}, margin=_TITLE_MARGIN)
    return _titled(fig, "chart.energy_by_state", lang)


def demand(
    points: list[tuple[int, float]],
    tz: ZoneInfo,
    lang: str = "en",
    t0_ms: float | None = None,
    t1_ms: float | None = None,
) -> go.Figure:
    """Mean kW per quarter hour. A quarter the range's end cuts (the one under way) is not
    comparable with whole ones: drawn apart, hatched, at its mean kW so far."""
    end = t1_ms if t1_ms is not None else float("inf")
    done = [(ts, kw) for ts, kw in points if ts + QUARTER_MS <= end]
    partial = [
        (ts, kw * QUARTER_MS / (end - ts)) for ts, kw in points if ts + QUARTER_MS > end > ts
    ]
    fig = go.Figure()
    for rows, key, style in (
        (done, "chart.demand_done", {}),
        (partial, "chart.demand_partial", {"pattern": {"shape": "/"}, "opacity": 0.55}),
    ):
        if not rows:
            continue
        fig.add_bar(
            x=[_local_iso(ts + QUARTER_MS / 2, tz) for ts, _ in rows],
            y=[round(kw, 1) for _, kw in rows],
            width=QUARTER_MS * 0.9,
            name=t(key, lang),
            marker=style,
        )
    a = t0_ms if t0_ms is not None else (points[0][0] if points else 0)
    b = t1_ms if t1_ms is not None else (points[-1][0] + QUARTER_MS if points else a + QUARTER_MS)
    fig.update_layout(
        yaxis={"title": t("demand_kw", lang), "rangemode": "nonnegative"},
        xaxis=time_axis(a, b, tz, lang),
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 56, "b": 80},
    )
    return _titled(fig, "chart.demand", lang)


def shift_label(name: str, start_ms: int, tz: ZoneInfo, lang: str = "en") -> str:
    return fmt.shift_label(name, start_ms, tz, lang)


def energy_by_shift(
    shifts: list[tuple[str, int, dict[str, Any]]], tz: ZoneInfo, lang: str = "en"
) -> go.Figure:
    """The trend across shifts: kWh, and kWh per good part (the number that should fall)."""
    x = [shift_label(name, start, tz, lang) for name, start, _ in shifts]
    plant = [r["plant"] for _, _, r in shifts]
    fig = go.Figure()
    kwh = [round(p["energy_kwh"], 1) for p in plant]
    per_good = [round(kpi.kwh_per_good(p["energy_kwh"], p["good_count"]), 3) for p in plant]
    fig.add_bar(x=x, y=kwh, name=t("energy_kwh", lang))
    fig.add_scatter(x=x, y=per_good, yaxis="y2", mode="lines+markers", name=t("kwh_per_good", lang))
    left, right = two_axes(kwh, per_good, lang)
    fig.update_layout(
        yaxis={"title": t("energy_kwh", lang), **left},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": t("axis.kwh_per_good", lang),
            "showgrid": False,
            **right,
        },
        legend=_TOP_LEGEND,
        xaxis={"title": t("axis.shift", lang), "type": "category"},
        margin={"t": 56, "b": 60},
    )
    return _titled(fig, "chart.energy_by_shift", lang)


def oee_by_period(
    labels: list[str], entries: list[dict[str, Any] | None], lang: str = "en"
) -> go.Figure:
    """OEE with its three factors per hour or per shift of one machine."""
    fig = go.Figure()
    for key in ("oee", "availability", "performance", "quality"):
        fig.add_scatter(
            x=labels,
            y=[round(e[key] * 100, 1) if e and e["planned_s"] else None for e in entries],
            mode="lines+markers" if key == "oee" else "lines",
            name=t(key, lang),
            line={"width": 3 if key == "oee" else 1},
        )
    fig.update_layout(yaxis={"title": "%", "range": [0, 105]}, margin={"t": 56, "b": 60})
    return _titled(fig, "chart.oee_by_period", lang)


def _factor(e: dict[str, Any] | None, key: str) -> float | None:
    # A period with no planned time has no OEE (not 0%): a gap, not a dip to zero.
    return round(e[key] * 100, 1) if e and e["planned_s"] else None


def oee_by_hour(
    hours: list[tuple[int, dict[str, Any] | None]],
    t0_ms: float,
    t1_ms: float,
    tz: ZoneInfo,
    lang: str = "en",
) -> go.Figure:
    """OEE and its factors per hour on a local time axis: each point at the middle of its
    hour, gaps where nothing was planned, ticks thinned for long ranges."""
    ends = [a for a, _ in hours[1:]] + [t1_ms]
    x = [_local_iso((a + b) / 2, tz) for (a, _), b in zip(hours, ends, strict=True)]
    fig = go.Figure()
    for key in ("oee", "availability", "performance", "quality"):
        fig.add_scatter(
            x=x,
            y=[_factor(e, key) for _, e in hours],
            mode="lines+markers" if key == "oee" else "lines",
            name=t(key, lang),
            line={"width": 3 if key == "oee" else 1},
            marker={"size": 5},
        )
    fig.update_layout(
        yaxis={"title": "%", "range": [0, 105]},
        xaxis=time_axis(t0_ms, t1_ms, tz, lang),
        margin={"t": 56, "b": 60},
    )
    return _titled(fig, "chart.oee_by_hour", lang)


def oee_by_shift(
    shifts: list[tuple[str, int, dict[str, Any] | None]], tz: ZoneInfo, lang: str = "en"
) -> go.Figure:
    """OEE and its factors per shift as grouped bars (one shift is four bars, not a dot)."""
    x = [shift_label(name, start, tz, lang) for name, start, _ in shifts]
    fig = go.Figure()
    for key in ("oee", "availability", "performance", "quality"):
        fig.add_bar(x=x, y=[_factor(e, key) for _, _, e in shifts], name=t(key, lang))
    fig.update_layout(
        barmode="group",
        yaxis={"title": "%", "range": [0, 105]},
        xaxis={"title": t("axis.shift", lang), "type": "category"},
        margin={"t": 56, "b": 60},
    )
    return _titled(fig, "chart.oee_by_shift", lang)
