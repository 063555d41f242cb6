"""The end-of-shift report's downloads: /reports/<YYYY-MM-DD>/<shift>.pdf|csv?lang=vi, and the
overview's links to them for the shifts of the chosen range.

The files are made on request by shopfloor.shiftreport (the same code as `shopfloor report`
and the demo's files), so a download is never stale. The routes are Flask routes on the
Dash app's server: its basic auth (dashboard.app._basic_auth, a before_request hook) guards
them like every page.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import flask
from dash import Output, callback, html

from dashboard import fmt, ids
from dashboard.context import context
from dashboard.data import RangeError, range_spec, window_ms
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from shopfloor import clock, shiftreport
from shopfloor.store.base import StoreError

MAX_LINKS = 21  # a week of three shifts; a longer custom range lists its newest shifts
CONTENT = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def report_response(day_text: str, shift: str, ext: str) -> flask.Response:
    lang = flask.request.args.get("lang", "en")
    if ext not in CONTENT:
        return _plain(404, "a report is a .pdf or a .csv")
    if lang not in ("en", "vi"):
        return _plain(400, f"lang={lang!r}: en or vi")
    ctx = context()
    if ctx.cfg is None:
        return _plain(404, "the dashboard has no plant config (start it with --config): no shifts")
    try:
        window = shiftreport.find_shift(ctx.cfg, date.fromisoformat(day_text), shift)
    except ValueError as exc:
        return _plain(404, f"{day_text}/{shift}: {exc}")
    try:
        # An all-zero report of a shift the store has nothing of would pass for an idle shift.
        if not shiftreport.has_data(ctx.store, window):
            return _plain(404, f"no data stored for shift {window.key}")
        data = shiftreport.collect(ctx.store, ctx.cfg, window, clock.now_ms())
    except StoreError as exc:
        return _plain(503, f"the store cannot be read: {exc}")
    body = shiftreport.pdf_bytes(data, lang) if ext == "pdf" else shiftreport.csv_bytes(data)
    name = f"{window.stem}{'.vi' if lang == 'vi' and ext == 'pdf' else ''}.{ext}"
    return flask.Response(
        body,
        200,
        {"Content-Type": CONTENT[ext], "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _plain(status: int, message: str) -> flask.Response:
    return flask.Response(message + "\n", status, {"Content-Type": "text/plain; charset=utf-8"})


def register(server: flask.Flask) -> None:
    server.add_url_rule(
        "/reports/<day_text>/<shift>.<ext>", "shift_report", report_response, methods=["GET"]
    )


def href(window: shiftreport.ShiftWindow, ext: str, lang: str) -> str:
    return f"/reports/{window.day.isoformat()}/{quote(window.name, safe='')}.{ext}?lang={lang}"


def links(t0_ms: int, t1_ms: int, now_ms: int, lang: str) -> list[Any]:
    """The section: one line per shift of the range begun by now and with stored data, newest
    first, each with its PDF (in the page's language) and CSV."""
    ctx = context()
    if ctx.cfg is None:
        return []
    shifts = [w for w in shiftreport.shifts_overlapping(ctx.cfg, t0_ms, t1_ms) if w.t0_ms <= now_ms]
    try:
        shifts = [w for w in shifts[-MAX_LINKS:] if shiftreport.has_data(ctx.store, w)]
    except StoreError:
        return []  # the overview's own figures say the store cannot be read
    items = []
    for w in reversed(shifts[-MAX_LINKS:]):
        label = (
            f"{t('shift', lang)} {w.name} · {fmt.weekday(w.t0_ms, ctx.tz, lang)} "
            f"{fmt.date(w.t0_ms, ctx.tz, lang)} · {fmt.clock_time(w.t0_ms, ctx.tz, lang)}–"
            f"{fmt.clock_time(w.t1_ms, ctx.tz, lang)}"
        )
        if w.t1_ms > now_ms:
            label += f" ({t('reports.so_far', lang)})"
        items.append(
            html.Li(
                [
                    html.Span(label, className="me-2"),
                    html.A("PDF", href=href(w, "pdf", lang), className="me-2", download=""),
                    html.A("CSV", href=href(w, "csv", lang), download=""),
                ],
                **{"data-shift": w.key},
            )
        )
    if not items:
        return []
    return [
        html.H2(t("reports.title", lang), className="section-title"),
        html.Ul(items, className="shift-reports list-unstyled"),
    ]


@callback(Output(ids.OVERVIEW_REPORTS, "children"), *header_inputs())
def overview_reports(
    _n: int | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> list[Any]:
    lang = lang or "en"
    now_ms = clock.now_ms()
    try:
        t0_ms, t1_ms = window_ms(context(), range_spec(range_kind, start, end), now_ms / 1000)
    except RangeError:
        return []  # the overview's own message names what is wrong with the range
    return links(t0_ms, t1_ms, now_ms, lang)
