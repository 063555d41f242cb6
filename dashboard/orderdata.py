"""The Orders page's data (issue 12): which orders a range shows and each one's status. The
KPIs themselves are shopfloor.orders (via shopfloor.store.report.orders_from_store)."""

from __future__ import annotations

from typing import Any


def status(o: dict[str, Any], now_ms: int) -> str:
    """The i18n key of an order's status: finished on time or late, in progress (late once
    past due), or waiting for the line."""
    if o["finish_ms"] is not None:
        return "orders.on_time" if o["on_time"] else "orders.late"
    if o["start_ms"] is None:
        return "orders.waiting"
    return "orders.in_progress_late" if now_ms > o["due_ms"] else "orders.in_progress"


def relevant(orders: list[dict[str, Any]], t0: int, t1: int) -> list[dict[str, Any]]:
    """The orders the range saw: released, due or finished in it, or in the system during it."""
    return [
        o
        for o in orders
        if o["release_ms"] < t1
        and (o["finish_ms"] is None or o["finish_ms"] >= t0 or t0 <= o["due_ms"] < t1)
    ]
