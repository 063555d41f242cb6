"""Orders (issue 12): on-time-in-full, lead time, WIP and schedule attainment of the work
orders in the range, per line and for the plant, and every order's status. The KPI math is
shopfloor.orders (the simulator's ground truth uses the same), read from the store's `order`
events."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import dash
from dash import Output, callback, dcc, html

from dashboard import fmt, ids, notices, order_figures
from dashboard.context import context
from dashboard.data import range_spec, window_ms
from dashboard.i18n import t
from dashboard.inputs import header_inputs
from dashboard.notices import store_error
from dashboard.orderdata import relevant, status
from shopfloor.store.base import StoreError
from shopfloor.store.report import orders_from_store

dash.register_page(__name__, path="/orders", name="Orders", order=3)

KPIS = ("otif", "on_time", "in_full", "schedule_attainment")


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.ORDERS_MESSAGE, className="message"),
            html.Div(
                [
                    html.Div(id=ids.ORDERS_KPIS),
                    dcc.Graph(id=ids.ORDERS_LEAD_TIMES),
                    html.Div(id=ids.ORDERS_TABLE),
                ],
                id=ids.ORDERS_CONTENT,
            ),
        ]
    )


def _pct(v: float | None, lang: str) -> str:
    return "–" if v is None else fmt.percent(v, lang)


def _hours(seconds: float | None, lang: str) -> str:
    return "–" if seconds is None else f"{fmt.number(seconds / 3600, lang, 1)} h"


def kpi_table(orders: dict[str, Any], lang: str) -> html.Table:
    """The plant and each line: orders due and finished, OTIF and its halves, attainment,
    mean lead time, mean and final WIP (orders)."""
    heads = [
        "orders.scope", "orders.due", "orders.finished", "orders.otif", "orders.on_time",
        "orders.in_full", "orders.attainment", "orders.lead_time", "orders.wip_avg",
        "orders.wip_end",
    ]  # fmt: skip
    scopes = [(t("plant", lang), orders["plant"])] + [
        (f"{t('line', lang)} {lid}", k) for lid, k in orders["lines"].items()
    ]
    rows = [
        html.Tr(
            [
                html.Td(name),
                html.Td(fmt.integer(k["orders_due"], lang)),
                html.Td(fmt.integer(k["orders_finished"], lang)),
                *[html.Td(_pct(k[key], lang), **{"data-kpi": key}) for key in KPIS],
                html.Td(_hours(k["lead_time_mean_s"], lang)),
                html.Td(fmt.number(k["wip_orders_avg"], lang, 2)),
                html.Td(fmt.integer(k["wip_orders_end"], lang)),
            ],
            **{"data-scope": name},
        )
        for name, k in scopes
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(t(h, lang)) for h in heads])), html.Tbody(rows)],
        className="kpi-table orders-kpis",
    )


def order_table(orders: list[dict[str, Any]], now_ms: int, tz: tzinfo, lang: str) -> html.Table:
    def when(ms: int | None) -> str:
        return "–" if ms is None else fmt.date_time(ms, tz, lang)

    heads = [
        "orders.order", "line", "orders.product", "orders.quantity", "good", "orders.release",
        "orders.due_at", "orders.start", "orders.finish", "orders.status",
    ]  # fmt: skip
    rows = [
        html.Tr(
            [
                html.Td(o["id"]),
                html.Td(o["line"]),
                html.Td(o["product"]),
                html.Td(fmt.integer(o["quantity"], lang)),
                # In flight: its good parts so far (its latest `progress`, every 15 minutes).
                html.Td(fmt.integer(o["good"], lang) if o["start_ms"] is not None else "–"),
                html.Td(when(o["release_ms"])),
                html.Td(when(o["due_ms"])),
                html.Td(when(o["start_ms"])),
                html.Td(when(o["finish_ms"])),
                html.Td(t(status(o, now_ms), lang)),
            ],
            **{"data-order": o["id"]},
        )
        for o in reversed(orders)  # the newest first
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(t(h, lang)) for h in heads])), html.Tbody(rows)],
        className="kpi-table orders-table",
    )


@callback(
    Output(ids.ORDERS_KPIS, "children"),
    Output(ids.ORDERS_LEAD_TIMES, "figure"),
    Output(ids.ORDERS_TABLE, "children"),
    Output(ids.ORDERS_MESSAGE, "children"),
    Output(ids.ORDERS_CONTENT, "style"),
    *header_inputs(),
)
def refresh(
    _n: int | None,
    range_kind: str | None,
    lang: str | None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[Any, ...]:
    lang = lang or "en"
    ctx = context()
    hidden = {"display": "none"}
    try:
        t0, t1 = window_ms(ctx, range_spec(range_kind, start, end), None)
        lines = [line.id for line in ctx.cfg.lines] if ctx.cfg is not None else []
        orders = orders_from_store(ctx.store, t0, t1, lines)
    except StoreError as exc:
        notice = getattr(exc, "notice", None)
        return None, {}, None, notices.message([notice or store_error(exc)], ctx.tz, lang), hidden
    if orders is None:
        return None, {}, None, notices.message([t("orders.no_orders", lang)], ctx.tz, lang), hidden
    shown = relevant(orders["orders"], t0, t1)
    finished = [o for o in shown if o["finish_ms"] is not None and t0 <= o["finish_ms"] < t1]
    return (
        kpi_table(orders, lang),
        order_figures.lead_times(finished, lang),
        order_table(shown, t1, ctx.tz, lang),
        None,
        {},
    )
