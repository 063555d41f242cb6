"""Figure builders: pure functions from KPI data to Plotly figures (no store access, no Dash).

Callbacks fetch, shopfloor's KPI math computes, these draw. Text from telemetry (machine ids,
reasons) goes into figures as data, which Plotly renders as text, never as HTML.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.colors import STATE_COLORS
from dashboard.i18n import t
from shopfloor import kpi


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
        barmode="group", yaxis={"title": "%", "range": [0, 105]}, margin={"t": 30, "b": 40}
    )
    return fig


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
            customdata=[r for _, _, r in spans],
            hovertemplate="%{customdata}<extra>%{fullData.name}</extra>",
            marker_color=STATE_COLORS[state],
        )
    fig.update_layout(
        barmode="overlay",
        xaxis={"type": "date", "title": t("time", lang)},
        margin={"t": 30, "b": 40},
    )
    return fig


def power_trace(samples: list[tuple[int, float]], tz: ZoneInfo, lang: str = "en") -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[datetime.fromtimestamp(ts / 1000, tz).isoformat() for ts, _ in samples],
            y=[p for _, p in samples],
            mode="lines",
            name=t("power_kw", lang),
        )
    )
    fig.update_layout(
        yaxis={"title": t("power_kw", lang)},
        xaxis={"title": t("time", lang)},
        margin={"t": 30, "b": 40},
    )
    return fig


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
    fig.update_layout(yaxis={"title": t("hours", lang)}, margin={"t": 30, "b": 40})
    return fig


def pareto(items: list[tuple[str, str, float]], lang: str = "en", top: int = 15) -> go.Figure:
    """Downtime hours by state and reason, largest first, with the cumulative share."""
    shown = items[:top]
    total = sum(h for _, _, h in items) or 1.0
    cumulative: list[float] = []
    running = 0.0
    for _, _, h in shown:
        running += h
        cumulative.append(round(running / total * 100, 1))
    labels = [f"{t('state.' + s, lang)}: {r}" for s, r, _ in shown]
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=[round(h, 2) for _, _, h in shown],
        marker_color=[STATE_COLORS[s] for s, _, _ in shown],
        name=t("hours", lang),
    )
    fig.add_scatter(x=labels, y=cumulative, yaxis="y2", mode="lines+markers", name="%")
    fig.update_layout(
        yaxis={"title": t("hours", lang)},
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 105], "title": "%"},
        margin={"t": 30, "b": 120},
    )
    return fig


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
    fig.update_layout(yaxis={"title": t("hours", lang)}, margin={"t": 30, "b": 60})
    return fig


def energy_bars(report: dict[str, Any], lang: str = "en") -> go.Figure:
    """kWh and kWh per good part of each line (scrap's energy counts against good parts)."""
    lines = list(report["lines"].items())
    fig = go.Figure()
    fig.add_bar(
        x=[lid for lid, _ in lines],
        y=[round(e["energy_kwh"], 1) for _, e in lines],
        name=t("energy_kwh", lang),
    )
    fig.add_scatter(
        x=[lid for lid, _ in lines],
        y=[round(kpi.kwh_per_good(e["energy_kwh"], e["good_count"]), 3) for _, e in lines],
        yaxis="y2", mode="markers", marker={"size": 12}, name=t("kwh_per_good", lang),
    )  # fmt: skip
    fig.update_layout(
        yaxis={"title": "kWh"},
        yaxis2={"overlaying": "y", "side": "right", "title": t("kwh_per_good", lang)},
        margin={"t": 30, "b": 40},
    )
    return fig


def energy_by_state(by_state_kwh: dict[str, float], lang: str = "en") -> go.Figure:
    states = [s for s in kpi.STATES if by_state_kwh.get(s, 0) > 0]
    return go.Figure(
        go.Pie(
            labels=[t(f"state.{s}", lang) for s in states],
            values=[round(by_state_kwh[s], 2) for s in states],
            marker={"colors": [STATE_COLORS[s] for s in states]},
            sort=False,
        )
    )


def demand(points: list[tuple[int, float]], tz: ZoneInfo, lang: str = "en") -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=[datetime.fromtimestamp(ts / 1000, tz).isoformat() for ts, _ in points],
            y=[round(kw, 1) for _, kw in points],
        )
    )
    fig.update_layout(yaxis={"title": t("demand_kw", lang)}, margin={"t": 30, "b": 40})
    return fig


def shift_label(name: str, start_ms: int, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(start_ms / 1000, tz)
    return f"{local:%a %d/%m} {name}".strip()


def energy_by_shift(
    shifts: list[tuple[str, int, dict[str, Any]]], tz: ZoneInfo, lang: str = "en"
) -> go.Figure:
    """The trend across shifts: kWh, and kWh per good part (the number that should fall)."""
    x = [shift_label(name, start, tz) for name, start, _ in shifts]
    plant = [r["plant"] for _, _, r in shifts]
    fig = go.Figure()
    fig.add_bar(x=x, y=[round(p["energy_kwh"], 1) for p in plant], name=t("energy_kwh", lang))
    fig.add_scatter(
        x=x,
        y=[round(kpi.kwh_per_good(p["energy_kwh"], p["good_count"]), 3) for p in plant],
        yaxis="y2", mode="lines+markers", name=t("kwh_per_good", lang),
    )  # fmt: skip
    fig.update_layout(
        yaxis={"title": "kWh"},
        yaxis2={"overlaying": "y", "side": "right", "title": t("kwh_per_good", lang)},
        margin={"t": 30, "b": 60},
    )
    return fig


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
    fig.update_layout(yaxis={"title": "%", "range": [0, 105]}, margin={"t": 30, "b": 60})
    return fig
