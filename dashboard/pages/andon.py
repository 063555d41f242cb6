"""The shop-floor TV (`/andon`): full screen, dark, type readable from five metres, no
controls. It shows one line at a time and moves to the next every `?every=` seconds (10 by
default); `?lang=vi` for Vietnamese. Per line: the current shift's OEE, A, P, Q, good parts
against the target, every station's live state as a coloured tile with its reason, and the
machine down the longest.

The shared header is hidden by dashboard/assets/andon.css while this page is shown.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard import fmt, ids, notices
from dashboard.colors import STATE_COLORS
from dashboard.context import context
from dashboard.i18n import LANGS, t
from dashboard.linedata import LineView, lines, longest_down
from shopfloor import clock, kpi
from shopfloor.targets import status, targets_for
from shopfloor.timerange import current_shift_s

dash.register_page(__name__, path="/andon", name="Andon", order=90)

EVERY_S = 10
EVERY_RANGE = (3, 600)
# How the OEE stands against the line's target, in colours readable on a dark screen.
TARGET_COLORS = {"above": "#66bb6a", "near": "#ffca28", "below": "#ef5350", "none": "#f5f5f5"}


def every_s(text: str | list[str] | None) -> tuple[int, str | None]:
    """Seconds per line from the query string, and the problem with it if it is unusable.
    A repeated `?every=3&every=4` reaches the layout as a list (Dash's parse_qs): unusable,
    named as it was typed, rather than a TypeError that left the TV blank."""
    if isinstance(text, list):
        return EVERY_S, "&every=".join(text)
    if text is None or text == "":
        return EVERY_S, None
    try:
        value = int(text)
    except ValueError:
        return EVERY_S, text
    if not EVERY_RANGE[0] <= value <= EVERY_RANGE[1]:
        return EVERY_S, text
    return value, None


def layout(
    every: str | list[str] | None = None, lang: str | list[str] | None = None, **_: Any
) -> html.Div:
    seconds, bad = every_s(every)
    return html.Div(
        [
            dcc.Interval(id=ids.ANDON_TICK, interval=seconds * 1000),
            dcc.Store(id=ids.ANDON_LANG, data=lang if lang in LANGS else "en"),
            dcc.Store(id=ids.ANDON_EVERY, data={"seconds": seconds, "bad": bad}),
            html.Div(id=ids.ANDON_BODY, className="andon-body"),
        ],
        className="andon-page",
    )


def tile(machine: str, state: str | None, reason: str, lang: str) -> html.Div:
    # Machine ids and reasons are children (text), which Dash escapes: never HTML.
    return html.Div(
        [
            html.Div(machine, className="andon-tile-id"),
            html.Div(t(f"state.{state}", lang) if state else "–", className="andon-tile-state"),
            html.Div(fmt.reason(reason, lang), className="andon-tile-reason"),
        ],
        className="andon-tile",
        style={"background": STATE_COLORS.get(state or "", "#616161")},
        **{"data-machine": machine, "data-state": state or ""},
    )


def kpi_row(key: str, value: float | None, lang: str) -> html.Div:
    return html.Div(
        [
            html.Span(t(key, lang), className="andon-kpi-name"),
            html.Span(
                fmt.percent(value, lang) if value is not None else "–", className="andon-kpi"
            ),
        ],
        className="andon-kpi-row",
    )


def body(
    view: LineView, index: int, count: int, shift: str, now_ms: int, lang: str, note: str | None
) -> html.Div:
    ctx = context()
    e = view.entry
    oee = e["oee"] if e else None
    color = TARGET_COLORS[status("oee", oee, targets_for(ctx.cfg, view.line))]
    good = fmt.integer(e["good_count"], lang) if e else "–"
    target = fmt.integer(kpi.target_count(e["planned_s"], e["ideal_cycle_s"]), lang) if e else "–"
    worst = longest_down(view, now_ms)
    # One row of tiles up to 6 stations, then 2 or 3 rows, the type shrinking to fit (CSS).
    n = max(1, len(view.stations))
    rows = 1 if n <= 6 else 2 if n <= 12 else 3
    per_row = -(-n // rows)
    if worst is None:
        down = t("andon.none_down", lang)
    else:
        st, minutes = worst
        down = (
            f"{t('andon.down_longest', lang)}: {st.machine} · "
            f"{t('andon.minutes', lang).format(n=fmt.integer(minutes, lang))}"
            + (f" · {fmt.reason(st.reason, lang)}" if st.reason else "")
        )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(f"{t('line', lang)} {view.line}", className="andon-line"),
                    html.Span(f"{t('shift', lang)} {shift}".strip(), className="andon-shift"),
                    html.Span(fmt.clock_time(now_ms, ctx.tz, lang), className="andon-clock"),
                ],
                className="andon-top",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(t("oee", lang), className="andon-label"),
                            html.Div(
                                fmt.percent(oee, lang) if oee is not None else "–",
                                className="andon-oee",
                                style={"color": color},
                            ),
                        ],
                        className="andon-oee-box",
                    ),
                    html.Div(
                        [
                            *(
                                kpi_row(k, e[k] if e else None, lang)
                                for k in ("availability", "performance", "quality")
                            ),
                            html.Div(
                                [
                                    html.Span(
                                        t("andon.good_of_target", lang), className="andon-kpi-name"
                                    ),
                                    html.Span(f"{good} / {target}", className="andon-kpi"),
                                ],
                                className="andon-kpi-row",
                            ),
                        ],
                        className="andon-apq",
                    ),
                ],
                className="andon-main",
            ),
            html.Div(
                [tile(s.machine, s.state, s.reason, lang) for s in view.stations],
                className="andon-tiles",
                style={"gridTemplateColumns": f"repeat({per_row}, minmax(0, 1fr))"},
            ),
            html.Div(down, className="andon-down" + (" is-down" if worst else "")),
            html.Div(
                [html.Span("●" if i == index else "○", className="andon-dot") for i in range(count)]
                + ([html.Span(note, className="andon-note")] if note else []),
                className="andon-pager",
            ),
        ],
        className=f"andon-screen rows-{rows}",
        **{"data-line": view.line},
    )


@callback(
    Output(ids.ANDON_BODY, "children"),
    Input(ids.ANDON_TICK, "n_intervals"),
    # The app's live refresh too: a line shown for a minute still changes as the floor does.
    Input(ids.REFRESH, "n_intervals"),
    State(ids.ANDON_LANG, "data"),
    State(ids.ANDON_EVERY, "data"),
)
def refresh(
    n: int | None, _live: int | None, lang: str | None, every: dict[str, Any] | None
) -> Any:
    lang = lang or "en"
    ctx = context()
    now_s = clock.now_s()
    data = lines(ctx, "current_shift", now_s, buffers=False)
    if data.error:
        message = notices.plain(data.error, lang)
        return html.Div(message, className="andon-message")
    index = (n or 0) % len(data.lines)
    note = None
    if every and every.get("bad") is not None:
        note = t("andon.every_bad", lang).format(value=every["bad"], n=every["seconds"])
    shift = current_shift_s(now_s, ctx.calendar)[2] or ""
    now_ms = int(now_s * 1000)
    return body(data.lines[index], index, len(data.lines), shift, now_ms, lang, note)
