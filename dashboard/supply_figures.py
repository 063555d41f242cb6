"""Figures of materials and the supply chain (issue 12): starvation by cause on the Losses
page. Pure: data in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard import fmt
from dashboard.colors import STATE_COLORS
from dashboard.i18n import t
from shopfloor.supply import NO_ORDER

# Waits for work, told apart by cause: a shortage upstream, of raw material, of orders.
_COLOR = {"upstream": STATE_COLORS["starved"], "no_material": "#8d6e63", NO_ORDER: "#9e9e9e"}


def cause_label(cause: str, detail: str, lang: str) -> str:
    return t(f"cause.{cause}", lang).format(what=detail)


def starvation(causes: dict[tuple[str, str], float], lang: str = "en") -> go.Figure:
    """Hours waiting for work by cause (shopfloor.supply.by_cause, in hours), one bar each:
    upstream station, no material (one bar per material), no order."""
    labels = [cause_label(c, d, lang) for c, d in causes]
    hours = list(causes.values())
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=[round(h, 2) for h in hours],
        marker_color=[_COLOR[c] for c, _ in causes],
        customdata=[fmt.number(h, lang, 2) for h in hours],
        hovertemplate="%{x}: %{customdata} " + t("hours", lang).lower() + "<extra></extra>",
        name=t("hours", lang),
    )
    if not causes:
        fig.add_annotation(
            text=t("starvation.none", lang), showarrow=False, xref="paper", yref="paper"
        )
    fig.update_layout(
        title={
            "text": t("chart.starvation", lang),
            "x": 0.01,
            "xanchor": "left",
            "font": {"size": 15},
        },
        separators=fmt.separators(lang),
        yaxis={"title": t("hours", lang), "rangemode": "nonnegative"},
        xaxis={"automargin": True},
        showlegend=False,
        margin={"t": 56, "b": 80},
    )
    return fig
