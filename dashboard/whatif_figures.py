"""The What-if page's figures: pure functions of `shopfloor whatif --json`'s document
(docs/whatif.md, JSON output) to Plotly figures.

Bars are the scenario means with their 95 % interval as whiskers; the paired differences
against the baseline are drawn with their own interval and marked where it excludes 0; the
tornado ranks a sensitivity run's parameters by their swing. OEE is drawn in percent.
Scenario names and station ids are user text: they go into figures as data, never markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

import plotly.graph_objects as go

from dashboard import fmt
from dashboard.i18n import t

# The plant figures the page compares (keys of the document's `metrics`).
METRICS: tuple[str, ...] = ("throughput_per_h", "oee", "kwh_per_good")
# Drawn value = document value x scale.
SCALE = {"oee": 100.0}
BASELINE_COLOR = "#8c96a0"
SCENARIO_COLOR = "#2f6fb0"
BETTER_COLOR = "#2e9e4f"
WORSE_COLOR = "#c8433a"
UNSURE_COLOR = "#b5bcc4"
LOW_COLOR = "#6c8ebf"
HIGH_COLOR = "#e0a23b"
_MARGIN = {"t": 56, "b": 40, "l": 10, "r": 10}


def _titled(fig: go.Figure, title: str, lang: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        separators=fmt.separators(lang),
        margin=_MARGIN,
    )
    return fig


# A name the CLI made from keys (`cnc-01.mttr_min=5`, a sweep's `(cnc-01.buffer=4)`): shown
# with the parameter's name, so no config key reaches a page.
_MADE_NAME = re.compile(
    r"(?P<station>[^\s(,=]+)\.(?P<param>mttr_min|mtbf_min|cycle_s\.mean|cycle_s\.cv|cycle_s"
    r"|scrap_rate|buffer|setup_min\.mean|setup_min\.cv|setup_min|ideal_cycle_s)=(?P<value>[^,)\s]+)"
)


def _value(text: str, lang: str) -> str:
    try:
        return fmt.decimal(float(text), lang)
    except ValueError:
        return text


def scenario_label(sc: dict[str, Any], lang: str) -> str:
    """A scenario as the page names it: the baseline in the page's language, a name made from
    config keys with the parameters' names."""
    if sc.get("baseline"):
        return t("whatif.baseline", lang)
    return _MADE_NAME.sub(
        lambda m: f"{m['station']} · {fmt.param(m['param'], lang)} = {_value(m['value'], lang)}",
        str(sc["name"]),
    )


def _as_text(label: str) -> str:
    """A label as Plotly shows it typed: it reads <b>, <br> and <a href> in tick and hover
    text as markup, and a scenario's name is free text from an uploaded file, seen by every
    page of the dashboard (Plotly turns the entities back, so `a < b` still reads so)."""
    return html.escape(label, quote=False)


def metric_label(metric: str, lang: str) -> str:
    return t(f"whatif.metric.{metric}", lang)


def unit_label(metric: str, lang: str) -> str:
    return t(f"whatif.unit.{metric}", lang)


def better(doc: dict[str, Any], metric: str) -> str:
    """'higher' or 'lower', as the document says (throughput up is good, kWh per part down)."""
    for m in doc.get("metrics", []):
        if m.get("key") == metric:
            return str(m.get("better", "higher"))
    return "higher"


def _scaled(v: float | None, metric: str) -> float | None:
    return None if v is None else v * SCALE.get(metric, 1.0)


def whiskers(fig: dict[str, Any] | None, metric: str) -> tuple[float | None, float, float]:
    """(mean, plus, minus) of one figure as drawn: the interval as distances from the mean
    (0 where there is no interval: fewer than two runs)."""
    if not fig or fig.get("mean") is None:
        return None, 0.0, 0.0
    mean = _scaled(fig["mean"], metric)
    lo, hi = _scaled(fig.get("ci_low"), metric), _scaled(fig.get("ci_high"), metric)
    assert mean is not None
    return mean, (hi - mean) if hi is not None else 0.0, (mean - lo) if lo is not None else 0.0


def scenario_bars(doc: dict[str, Any], metric: str, lang: str = "en") -> go.Figure:
    """One bar per scenario (the baseline first, greyed): the plant's mean with its 95 %
    interval as whiskers."""
    names, means, plus, minus, colors, hover = [], [], [], [], [], []
    for sc in doc["scenarios"]:
        f = sc["plant"]["figures"].get(metric)
        mean, up, down = whiskers(f, metric)
        names.append(_as_text(scenario_label(sc, lang)))
        means.append(mean)
        plus.append(up)
        minus.append(down)
        colors.append(BASELINE_COLOR if sc.get("baseline") else SCENARIO_COLOR)
        hover.append(_interval_text(f, metric, lang))
    fig = go.Figure(
        go.Bar(
            x=names,
            y=means,
            error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
            marker_color=colors,
            customdata=hover,
            hovertemplate="%{x}<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"title": unit_label(metric, lang), "rangemode": "tozero"},
        xaxis={"title": t("whatif.axis.scenario", lang), "type": "category"},
        showlegend=False,
    )
    title = t("whatif.chart.bars", lang).format(metric=metric_label(metric, lang))
    return _titled(fig, title, lang)


def _interval_text(f: dict[str, Any] | None, metric: str, lang: str, signed: bool = False) -> str:
    mean, up, down = whiskers(f, metric)
    if mean is None:
        return t("whatif.no_value", lang)
    digits = _digits(metric)
    sign = "+" if signed and mean > 0 else ""
    text = sign + fmt.number(mean, lang, digits)
    if f and f.get("ci_low") is not None:
        lo, hi = mean - down, mean + up
        text += " " + t("whatif.ci", lang).format(
            low=fmt.number(lo, lang, digits), high=fmt.number(hi, lang, digits)
        )
    return text


def _digits(metric: str) -> int:
    return 3 if metric == "kwh_per_good" else 1


def diff_color(d: dict[str, Any] | None, direction: str) -> str:
    """Green where the change is significant and for the better, red for the worse, grey where
    chance explains it."""
    if not d or d.get("mean") is None or not d.get("significant"):
        return UNSURE_COLOR
    up = d["mean"] > 0
    return BETTER_COLOR if up == (direction == "higher") else WORSE_COLOR


def paired_diffs(doc: dict[str, Any], metric: str, lang: str = "en") -> go.Figure:
    """Each scenario's paired difference against the baseline (run r against run r), with
    its 95 % interval; a significant one (the interval excludes 0) is coloured and marked *."""
    direction = better(doc, metric)
    names, means, plus, minus, colors, labels, hover = [], [], [], [], [], [], []
    for sc in doc["scenarios"]:
        if sc.get("baseline"):
            continue
        d = ((sc.get("vs_baseline") or {}).get("plant") or {}).get("figures", {}).get(metric)
        mean, up, down = whiskers(d, metric)
        names.append(_as_text(scenario_label(sc, lang)))
        means.append(mean)
        plus.append(up)
        minus.append(down)
        colors.append(diff_color(d, direction))
        significant = bool(d and d.get("significant"))
        labels.append(
            ("+" if mean is not None and mean > 0 else "")
            + (fmt.number(mean, lang, _digits(metric)) if mean is not None else "")
            + (" *" if significant else "")
        )
        verdict = t("whatif.significant" if significant else "whatif.not_significant", lang)
        hover.append(f"{_interval_text(d, metric, lang, signed=True)}<br>{verdict}")
    fig = go.Figure(
        go.Bar(
            y=names,
            x=means,
            orientation="h",
            error_x={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
            marker_color=colors,
            text=labels,
            textposition="outside",
            customdata=hover,
            hovertemplate="%{y}<br>%{customdata}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_width=1, line_color="#555")
    fig.update_layout(
        xaxis={"title": t("whatif.axis.diff", lang).format(unit=unit_label(metric, lang))},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        showlegend=False,
        height=max(260, 80 + 40 * len(names)),
    )
    title = t("whatif.chart.diffs", lang).format(metric=metric_label(metric, lang))
    return _titled(fig, title, lang)


def tornado_rows(doc: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """The sensitivity ranking for `metric` (throughput_per_h or kwh_per_good), largest swing
    first."""
    sens = doc.get("sensitivity") or {}
    rank = "rank_kwh_per_good" if metric == "kwh_per_good" else "rank_throughput"
    return sorted(sens.get("ranking", []), key=lambda r: r[rank])


def tornado(doc: dict[str, Any], metric: str = "throughput_per_h", lang: str = "en",
            top: int = 15) -> go.Figure:  # fmt: skip
    """Which machine first: each station parameter's paired change of the plant's figure when
    it is moved down (one bar) and up (the other) alone, the largest swing on top."""
    if metric not in ("throughput_per_h", "kwh_per_good"):
        metric = "throughput_per_h"
    rows = tornado_rows(doc, metric)[:top]
    pct = (doc.get("sensitivity") or {}).get("percent", 10)
    labels = [f"{r['station']} · {fmt.param(r['parameter'], lang)}" for r in rows]
    fig = go.Figure()
    for side, color in (("low", LOW_COLOR), ("high", HIGH_COLOR)):
        xs, plus, minus, hover = [], [], [], []
        for r in rows:
            d = r[metric][side]
            mean, up, down = whiskers(d, metric)
            xs.append(mean)
            plus.append(up)
            minus.append(down)
            moved = r[side]
            value = fmt.decimal(moved["value"], lang) if moved else t("whatif.no_value", lang)
            hover.append(
                f"{fmt.param(r['parameter'], lang)} = {value}<br>"
                f"{_interval_text(d, metric, lang, signed=True)}"
            )
        fig.add_trace(
            go.Bar(
                y=labels,
                x=xs,
                orientation="h",
                name=t(f"whatif.tornado.{side}", lang).format(pct=fmt.decimal(pct, lang)),
                marker_color=color,
                error_x={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
                customdata=hover,
                hovertemplate="%{y}<br>%{customdata}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line_width=1, line_color="#555")
    fig.update_layout(
        barmode="overlay",
        xaxis={"title": t("whatif.axis.diff", lang).format(unit=unit_label(metric, lang))},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": -0.2},
        height=max(300, 120 + 32 * len(rows)),
    )
    title = t("whatif.chart.tornado", lang).format(metric=metric_label(metric, lang))
    return _titled(fig, title, lang)
