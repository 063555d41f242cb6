"""The fetch step of the callbacks: store -> shopfloor KPI math, nothing drawn here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dashboard.context import DashContext
from shopfloor.store.base import StoreError
from shopfloor.store.report import report_from_store
from shopfloor.timerange import resolve


@dataclass
class Overview:
    report: dict[str, Any] | None
    states: dict[str, tuple[str, str]]  # machine -> (state, reason) now
    error: str | None
    t0_ms: int
    t1_ms: int


def overview(ctx: DashContext, range_kind: str, now_s: float | None = None) -> Overview:
    now_s = time.time() if now_s is None else now_s
    t0, t1 = resolve(range_kind, now_s, ctx.calendar)
    t0_ms, t1_ms = int(t0 * 1000), int(t1 * 1000) + 1
    try:
        report = report_from_store(ctx.store, t0_ms, t1_ms, ctx.cfg)
        latest = ctx.store.states(t1_ms, t1_ms + 1)
    except StoreError as exc:
        return Overview(None, {}, str(exc), t0_ms, t1_ms)
    states = {m: (rows[-1][1], rows[-1][2]) for m, rows in latest.items() if rows}
    if not report["machines"]:
        return Overview(None, states, "no data in the store for this range yet", t0_ms, t1_ms)
    return Overview(report, states, None, t0_ms, t1_ms)
