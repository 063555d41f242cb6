"""Truth (simulated plants): the simulator's own ground truth beside what the store measured
for the same range, for the plant, each line and each machine, with the differences and those
beyond the reconcile tolerances highlighted: the proof that the measurement is right.

Shown in the navigation only when the dashboard has --broker (it asks the simulator with the
`truth` command, as the Simulation page sends its commands)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback, html

from dashboard import fmt, ids, replies
from dashboard.context import context
from dashboard.data import range_spec
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from dashboard.truthdata import METRICS, Cell, Row, TruthView, truth_vs_store

dash.register_page(__name__, path="/truth", name="Truth", order=9)

HEADINGS = {
    "oee": "oee",
    "availability": "availability",
    "performance": "performance",
    "quality": "quality",
    "good_count": "good",
    "scrap_count": "scrap",
    "energy_kwh": "energy_kwh",
}


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.TRUTH_MESSAGE, className="message"),
            html.Div(id=ids.TRUTH_RANGE, className="updated"),
            html.Div(id=ids.TRUTH_SUMMARY),
            html.Div(id=ids.TRUTH_TABLE, className="table-responsive"),
        ]
    )


def _value(key: str, v: float, lang: str) -> str:
    kind = dict(METRICS)[key]
    if kind == "ratio":
        return fmt.percent(v, lang)
    if kind == "count":
        return fmt.integer(v, lang)
    return fmt.number(v, lang, 2)


def _diff(key: str, d: float, lang: str) -> str:
    """Signed, in percentage points for a ratio; a difference that rounds to zero is 0."""
    kind = dict(METRICS)[key]
    value, digits = (d * 100, 2) if kind == "ratio" else (d, 0 if kind == "count" else 3)
    value = round(value, digits)
    if value == 0:
        return fmt.number(0, lang, digits)
    text = fmt.number(value, lang, digits)
    return f"+{text}" if value > 0 else text


def _cells(row: Row, key: str, cell: Cell, lang: str) -> list[html.Td]:
    tag = f"{row.kind}:{row.name}:{key}"
    diff_class = "truth-off" if cell.off else "truth-inferred" if cell.tol is None else ""
    return [
        html.Td(_value(key, cell.measured, lang), className="group-start",
                **{"data-truth": f"{tag}:measured"}),
        html.Td(_value(key, cell.truth, lang), **{"data-truth": f"{tag}:truth"}),
        html.Td(_diff(key, cell.diff, lang), className=diff_class,
                **{"data-truth": f"{tag}:diff", "data-off": "1" if cell.off else "0"}),
    ]  # fmt: skip


def table(view: TruthView, lang: str) -> html.Table:
    head1 = html.Tr(
        [html.Th("")]
        + [html.Th(t(HEADINGS[k], lang), colSpan=3, className="group-start") for k, _ in METRICS]
    )

    def sub(kind: str) -> list[html.Th]:
        diff = t("truth.diff", lang)
        if kind == "ratio":
            diff = f"{diff} ({t('truth.points', lang)})"
        return [html.Th(t("truth.measured", lang)), html.Th(t("truth.truth", lang)), html.Th(diff)]

    head2 = html.Tr([html.Th("")] + [th for _, kind in METRICS for th in sub(kind)])
    body = []
    for row in view.rows:
        if row.kind == "plant":
            name = t("plant", lang)
        elif row.kind == "line":
            name = f"{t('line', lang)} {row.name}"
        else:
            name = row.name + (f" ({t('truth.inferred', lang)})" if row.inferred else "")
        cells = [c for key, _ in METRICS for c in _cells(row, key, row.cells[key], lang)]
        body.append(html.Tr([html.Td(name, style={"textAlign": "left"}), *cells],
                            className=f"row-{row.kind}"))  # fmt: skip
    return html.Table(
        [html.Thead([head1, head2]), html.Tbody(body)], className="kpi-table truth-table"
    )


def render(view: TruthView, lang: str, tz: Any) -> tuple[Any, ...]:
    if view.error is not None:
        key, detail = view.error
        # The simulator's refusal is English on the wire: worded in the page's language.
        detail = replies.error_text(detail, lang, fallback=detail) if detail else detail
        return t(key, lang).format(detail=detail), None, None, None
    span = t("truth.range", lang).format(
        start=fmt.date_time(view.from_ms, tz, lang), end=fmt.date_time(view.to_ms, tz, lang)
    )
    if view.rounded:
        span = f"{span} {t('truth.rounded', lang)}"
    if view.cut_ms is not None:
        cut = t("truth.cut", lang).format(end=fmt.date_time(view.cut_ms, tz, lang))
        span = html.Span([span, " ", html.Span(cut, **{"data-truth-cut": str(view.cut_ms)})])
    judged = view.judged
    ok = sum(not c.off for c in judged)
    summary = [
        html.Strong(t("truth.summary", lang).format(ok=fmt.integer(ok, lang),
                                                    n=fmt.integer(len(judged), lang)),
                    **{"data-truth-ok": str(ok), "data-truth-n": str(len(judged))}),
        html.Div(t("truth.tolerances", lang), className="updated"),
    ]  # fmt: skip
    return None, span, summary, table(view, lang)


@callback(
    Output(ids.TRUTH_MESSAGE, "children"),
    Output(ids.TRUTH_RANGE, "children"),
    Output(ids.TRUTH_SUMMARY, "children"),
    Output(ids.TRUTH_TABLE, "children"),
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
    return render(truth_vs_store(ctx, range_spec(range_kind, start, end)), lang or "en", ctx.tz)
