"""The Truth page's fetch and comparison: the simulator's ground truth of the header's range
(the `truth` command over MQTT, dashboard/commands.py) beside the report the store gives for
exactly the range the truth covers, each figure with its difference and whether it is within
the reconcile tolerances (shopfloor/tolerance.py). Nothing drawn here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboard.context import DashContext
from dashboard.data import window_ms
from shopfloor import clock, tolerance
from shopfloor.commands import truth
from shopfloor.store.base import StoreError
from shopfloor.store.report import report_from_store

# (report key, kind): the figures compared, in the table's order.
METRICS: tuple[tuple[str, str], ...] = (
    ("oee", "ratio"),
    ("availability", "ratio"),
    ("performance", "ratio"),
    ("quality", "ratio"),
    ("good_count", "count"),
    ("scrap_count", "count"),
    ("energy_kwh", "kwh"),
)


@dataclass
class Cell:
    measured: float
    truth: float
    diff: float
    tol: float | None  # None: not judged (a legacy machine's inferred figures)

    @property
    def off(self) -> bool:
        return self.tol is not None and abs(self.diff) > self.tol + 1e-9


@dataclass
class Row:
    kind: str  # plant, line, machine
    name: str
    cells: dict[str, Cell]
    inferred: bool = False


@dataclass
class TruthView:
    rows: list[Row] = field(default_factory=list)
    error: tuple[str, str] | None = None  # (i18n key, detail)
    from_ms: int = 0
    to_ms: int = 0
    rounded: bool = False  # the truth's range differs from the one asked

    @property
    def judged(self) -> list[Cell]:
        return [c for r in self.rows for c in r.cells.values() if c.tol is not None]


def compare(measured: dict[str, Any], truth_report: dict[str, Any], ctx: DashContext) -> list[Row]:
    cfg = ctx.cfg
    energy_tol = tolerance.metered_kwh(cfg) if cfg is not None else {}
    interval = cfg.telemetry.sample_interval_s if cfg is not None else 10.0
    stations = {m: e.get("stations", []) for m, e in truth_report["lines"].items()}
    legacy = {m for m, e in measured["machines"].items() if e.get("inferred")}

    def row(kind: str, name: str, have: dict[str, Any] | None, want: dict[str, Any],
            machines: list[str]) -> Row:  # fmt: skip
        have = have or {}
        inferred = kind == "machine" and name in legacy
        cells = {}
        for key, what in METRICS:
            m, w = float(have.get(key, 0.0)), float(want[key])
            if what == "ratio":
                tol: float | None = tolerance.RATIO
            elif what == "count":
                tol = float(tolerance.COUNT)
            else:
                tol = sum(energy_tol.get(x, tolerance.ENERGY_KWH) for x in machines)
            if inferred and key != "availability" and key != "energy_kwh":
                tol = None  # counts assumed from an ideal cycle: not a measurement
            elif inferred and key == "availability" and want["planned_s"] > 0:
                tol = tolerance.legacy_running_s(want["running_s"], interval) / want["planned_s"]
            cells[key] = Cell(m, w, m - w, tol)
        return Row(kind, name, cells, inferred)

    every = list(truth_report["machines"])
    rows = [row("plant", "plant", measured.get("plant"), truth_report["plant"], every)]
    for lid, want in truth_report["lines"].items():
        rows.append(row("line", lid, measured["lines"].get(lid), want, stations[lid]))
    for mid, want in truth_report["machines"].items():
        rows.append(row("machine", mid, measured["machines"].get(mid), want, [mid]))
    return rows


def truth_vs_store(
    ctx: DashContext, range_kind: str, now_s: float | None = None, timeout_s: float = 2.0
) -> TruthView:
    if ctx.commands is None:
        return TruthView(error=("truth.no_broker", ""))
    now = clock.now_s() if now_s is None else now_s
    try:
        t0, t1 = window_ms(ctx, range_kind, now)
    except StoreError as exc:
        return TruthView(error=("truth.refused", str(exc)))
    # A named range ends at now (t1 includes the instant now): ask for the truth up to now.
    reply = ctx.commands.send(ctx.commands.topic(None), truth(t0, t1), timeout_s)
    if reply is None:
        return TruthView(error=("truth.no_reply", ""))
    if not reply.payload.get("ok"):
        return TruthView(error=("truth.refused", str(reply.payload.get("error", ""))))
    report = reply.payload["result"]
    a, b = int(report["plant"]["from_ms"]), int(report["plant"]["to_ms"])
    try:
        measured = report_from_store(ctx.store, a, b, ctx.cfg)
    except StoreError as exc:
        return TruthView(error=("truth.refused", str(exc)))
    # "Now" is the simulator's latest event, a few seconds behind the clock at most.
    rounded = a != t0 or abs(b - t1) > 60_000
    return TruthView(compare(measured, report, ctx), None, a, b, rounded)
