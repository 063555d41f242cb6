"""The I-MR control chart of the Machine page (issue 12, tool wear): individuals above, moving
ranges below, on the plant's time axis; the points that break a Western Electric rule in red,
their rules in the hover. Pure: a chart in (shopfloor.spc), a figure out."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import fmt
from dashboard.figures import time_axis
from dashboard.i18n import t
from shopfloor.spc import Chart

FLAG_COLOR = "#d62728"
LIMIT_COLOR = "#7f7f7f"
LINE_COLOR = "#1f77b4"


def _hover(ts: int, value: float, rules: tuple[int, ...], tz: ZoneInfo, lang: str) -> str:
    head = f"{fmt.date_time(ts, tz, lang)}: {fmt.number(value, lang, 2)}"
    return "<br>".join([head, *(t(f"spc.rule{r}", lang) for r in rules)])


def imr_chart(
    points: list[tuple[int, float]],
    chart: Chart,
    name: str,
    tz: ZoneInfo,
    lang: str,
    t0_ms: float,
    t1_ms: float,
) -> go.Figure:
    """`points` are (bucket start ms, value) in the order of `chart.values`."""
    lim = chart.limits
    xs = [fmt.local(ts, tz).isoformat() for ts, _ in points]
    label = fmt.words(name, lang)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35])
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=chart.values,
            mode="lines+markers",
            marker={"size": 4, "color": LINE_COLOR},
            line={"color": LINE_COLOR, "width": 1},
            name=t("spc.individuals", lang),
            customdata=[
                _hover(ts, v, f, tz, lang) for (ts, v), f in zip(points, chart.flags, strict=True)
            ],
            hovertemplate="%{customdata}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    flagged = [i for i, f in enumerate(chart.flags) if f]
    fig.add_trace(
        go.Scatter(
            x=[xs[i] for i in flagged],
            y=[chart.values[i] for i in flagged],
            mode="markers",
            marker={"size": 9, "color": FLAG_COLOR, "symbol": "circle-open", "line": {"width": 2}},
            name=t("spc.flagged", lang),
            customdata=[
                _hover(points[i][0], chart.values[i], chart.flags[i], tz, lang) for i in flagged
            ],
            hovertemplate="%{customdata}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    # Labels apart: the limits can lie close together (a steady value's sigma is small).
    for y, key, dash, where in (
        (lim.center, "spc.center", "solid", "top right"),
        (lim.ucl, "spc.ucl", "dash", "top left"),
        (lim.lcl, "spc.lcl", "dash", "bottom left"),
    ):
        fig.add_hline(
            y=y,
            line={"color": LIMIT_COLOR, "dash": dash, "width": 1},
            annotation_text=f"{t(key, lang)} {fmt.number(y, lang, 2)}",
            annotation_position=where,
            annotation_font_size=10,
            row=1,
            col=1,
        )
    mr_x = xs[1:]
    mr_y = [m for m in chart.moving_ranges[1:] if m is not None]
    fig.add_trace(
        go.Scatter(
            x=mr_x,
            y=mr_y,
            mode="lines+markers",
            marker={
                "size": 4,
                "color": [FLAG_COLOR if f else LINE_COLOR for f in chart.mr_flags[1:]],
            },
            line={"color": LINE_COLOR, "width": 1},
            name=t("spc.moving_range", lang),
            customdata=[
                f"{fmt.date_time(ts, tz, lang)}: {fmt.number(m, lang, 2)}"
                for (ts, _), m in zip(points[1:], mr_y, strict=True)
            ],
            hovertemplate="%{customdata}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    for y, key, dash, where in (
        (lim.mr_bar, "spc.center", "solid", "top right"),
        (lim.mr_ucl, "spc.ucl", "dash", "top left"),
    ):
        fig.add_hline(
            y=y,
            line={"color": LIMIT_COLOR, "dash": dash, "width": 1},
            annotation_text=f"{t(key, lang)} {fmt.number(y, lang, 2)}",
            annotation_position=where,
            annotation_font_size=10,
            row=2,
            col=1,
        )
    axis = time_axis(t0_ms, t1_ms, tz, lang)
    fig.update_xaxes(**{k: v for k, v in axis.items() if k != "title"}, row=1, col=1)
    fig.update_xaxes(**axis, row=2, col=1)
    fig.update_yaxes(title_text=label, row=1, col=1)
    fig.update_yaxes(title_text=t("spc.moving_range", lang), rangemode="nonnegative", row=2, col=1)
    fig.update_layout(
        title={
            "text": t("spc.title", lang).format(value=label),
            "x": 0.01,
            "xanchor": "left",
            "font": {"size": 15},
        },
        separators=fmt.separators(lang),
        height=520,
        margin={"t": 56, "b": 40},
        legend={"orientation": "h", "y": -0.12},
    )
    return fig
