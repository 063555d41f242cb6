"""Figures of the Orders page (issue 12): each order's lead time against the time it was
given. Pure: data in, figure out."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from dashboard import fmt
from dashboard.i18n import t

ON_TIME = "#2e7d32"
LATE = "#c62828"


def lead_times(orders: list[dict[str, Any]], lang: str = "en") -> go.Figure:
    """One bar per finished order: its lead time (release to finish) in hours, green when it
    finished by its due time, red when late; a tick marks the time it was given (release to
    due)."""
    done = [o for o in orders if o["finish_ms"] is not None]
    hours = [(o["finish_ms"] - o["release_ms"]) / 3_600_000 for o in done]
    allowed = [(o["due_ms"] - o["release_ms"]) / 3_600_000 for o in done]
    names = [o["id"] for o in done]
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=[round(h, 2) for h in hours],
        marker_color=[ON_TIME if o["on_time"] else LATE for o in done],
        customdata=[
            [fmt.number(h, lang, 2), t("orders.on_time" if o["on_time"] else "orders.late", lang)]
            for h, o in zip(hours, done, strict=True)
        ],
        hovertemplate="%{x}: %{customdata[0]} h, %{customdata[1]}<extra></extra>",
        name=t("orders.lead_time", lang),
    )
    fig.add_scatter(
        x=names,
        y=[round(a, 2) for a in allowed],
        mode="markers",
        marker={"symbol": "line-ew-open", "size": 18, "color": "#424242"},
        customdata=[fmt.number(a, lang, 2) for a in allowed],
        hovertemplate="%{x}: %{customdata} h<extra></extra>",
        name=t("orders.allowed", lang),
    )
    if not done:
        fig.add_annotation(
            text=t("orders.none_finished", lang), showarrow=False, xref="paper", yref="paper"
        )
    fig.update_layout(
        title={"text": t("orders.chart", lang)},
        xaxis={"title": {"text": t("orders.order", lang)}},
        yaxis={"title": {"text": t("orders.hours_axis", lang)}, "rangemode": "tozero"},
        legend={"orientation": "h"},
        margin={"t": 60, "r": 20, "b": 80, "l": 60},
    )
    return fig
