"""Sparklines for the KPI cards: one small line per card over the range's buckets.

Plain figure dicts, not plotly.graph_objects: a refresh draws one per card (six for the
plant, one per line; 25 lines in config/large.yaml), and the objects' validation would cost
more than the KPI math. x is the plant's local wall-clock time. The hover shows the bucket
(written once per bucket by dashboard.fmt) and the value, which Plotly writes with the
language's decimal and group marks (layout.separators): formatting every point of every card
with Babel would cost more than the rest of the refresh.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dashboard import fmt

DAY_MS = 86_400_000


def _local_iso(ts_ms: int, tz: ZoneInfo) -> str:
    # Plotly draws a naive ISO time as it reads: the plant's wall clock, whatever the browser's.
    return datetime.fromtimestamp(ts_ms / 1000, tz).replace(tzinfo=None).isoformat()


@lru_cache(maxsize=1024)
def bucket_label(a_ms: int, b_ms: int, tz: ZoneInfo, lang: str, long: bool) -> str:
    """06:00–07:00 within a day; the start's date and time before it for longer ranges."""
    if not long:
        return f"{fmt.clock_time(a_ms, tz, lang)}–{fmt.clock_time(b_ms - 1, tz, lang)}"
    return f"{fmt.date_time(a_ms, tz, lang)}–{fmt.clock_time(b_ms - 1, tz, lang)}"


def sparkline(
    points: list[tuple[int, int, float | None]],
    tz: ZoneInfo,
    lang: str,
    color: str,
    title: str,
    value_format: str,
    target: float | None = None,
) -> dict[str, Any]:
    """`points`: (bucket start ms, end ms, value or None for no planned time); `value_format`
    the hover's value as a Plotly template (`%{y:.1f}%`). A bucket without a value leaves a
    gap; the target, if any, is a dashed line."""
    if not points:
        return {"data": [], "layout": _layout(title, lang)}
    long = points[-1][1] - points[0][0] > 26 * 3_600_000
    x = [_local_iso(a, tz) for a, _, _ in points]
    labels = [bucket_label(a, b, tz, lang, long) for a, b, _ in points]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers" if len(points) < 3 else "lines",
            "x": x,
            "y": [v for _, _, v in points],
            "line": {"color": color, "width": 2, "shape": "hv"},
            "marker": {"size": 4, "color": color},
            "connectgaps": False,
            "customdata": labels,
            "hovertemplate": f"%{{customdata}}: {value_format}<extra></extra>",
            "name": title,
        }
    ]
    if target is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [x[0], x[-1]],
                "y": [target, target],
                "line": {"color": "#6c757d", "width": 1, "dash": "dot"},
                "hoverinfo": "skip",
            }
        )
    return {"data": data, "layout": _layout(title, lang)}


def _layout(title: str, lang: str) -> dict[str, Any]:
    return {
        "separators": fmt.separators(lang),
        "height": 46,
        "margin": {"l": 2, "r": 2, "t": 2, "b": 2},
        "xaxis": {"visible": False, "fixedrange": True},
        "yaxis": {"visible": False, "fixedrange": True, "rangemode": "tozero"},
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "closest",
        # Shown to screen readers (the card's heading is the visible title).
        "meta": {"title": title},
    }
