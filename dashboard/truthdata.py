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
from shopfloor.report import merge_reports
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
    # A range ending now is compared up to this instant (the latest whole quarter hour the
    # store holds from every machine); None for a range that ends in the past.
    cut_ms: int | None = None

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


# Machines per truth request: ~0.7 kB of reply each, so a request of this many stays far
# below MAX_REPLY_BYTES (60 KiB); the simulator refuses a larger reply in any case.
STATIONS_PER_ASK = 40
QUARTER_MS = 900_000


def line_chunks(ctx: DashContext) -> list[list[str]] | None:
    """The plant's lines in groups of at most STATIONS_PER_ASK machines (a line larger than
    that alone), each group one truth request; None without a config: one request for all."""
    if ctx.cfg is None:
        return None
    chunks: list[list[str]] = []
    n = 0
    for line in ctx.cfg.lines:
        if chunks and n + len(line.stations) <= STATIONS_PER_ASK:
            chunks[-1].append(line.id)
            n += len(line.stations)
        else:
            chunks.append([line.id])
            n = len(line.stations)
    return chunks


def store_frontier(ctx: DashContext) -> int | None:
    """The instant up to which the store has heard from every machine of the plant (the
    oldest of their last messages); None while one has not been heard from."""
    heard = {m.machine: m.last_ts for m in ctx.store.machines()}
    wanted = [st.id for _, st in ctx.cfg.stations()] if ctx.cfg is not None else list(heard)
    last = [heard.get(m, 0) for m in wanted]
    if not last or min(last) <= 0:
        return None
    return min(last)


def truth_vs_store(
    ctx: DashContext, range_kind: str, now_s: float | None = None, timeout_s: float = 2.0
) -> TruthView:
    if ctx.commands is None:
        return TruthView(error=("truth.no_broker", ""))
    now = clock.now_s() if now_s is None else now_s
    try:
        t0, t1 = window_ms(ctx, range_kind, now)
        # A range that ends now: the store ends each machine at its last message (up to a
        # sample interval ago), the simulator counts to its own now. Both stop at the latest
        # whole quarter hour the store has from every machine (the truth is kept per quarter).
        frontier = store_frontier(ctx) if t1 > int(now * 1000) else None
    except StoreError as exc:
        return TruthView(error=("truth.refused", str(exc)))
    cut: int | None = None
    if t1 > int(now * 1000):
        if frontier is None:
            return TruthView(error=("truth.not_stored", ""))
        cut = min(frontier, int(now * 1000)) // QUARTER_MS * QUARTER_MS
        if cut <= t0:  # no whole quarter of the range is stored yet
            return TruthView(error=("truth.not_stored", ""))
        t1 = cut
    chunks = line_chunks(ctx)
    asks = [truth(t0, t1, lines) for lines in chunks] if chunks else [truth(t0, t1)]
    replies = ctx.commands.send_many(ctx.commands.topic(None), asks, timeout_s, listed=False)
    if any(r is None for r in replies):
        return TruthView(error=("truth.no_reply", ""))
    for r in replies:
        assert r is not None
        if not r.payload.get("ok"):
            return TruthView(error=("truth.refused", str(r.payload.get("error", ""))))
    parts = [r.payload["result"] for r in replies if r is not None]
    order = [line.id for line in ctx.cfg.lines] if ctx.cfg is not None else None
    try:
        report = merge_reports(parts, order)
    except ValueError as exc:
        return TruthView(error=("truth.refused", str(exc)))
    a, b = int(report["plant"]["from_ms"]), int(report["plant"]["to_ms"])
    try:
        measured = report_from_store(ctx.store, a, b, ctx.cfg)
    except StoreError as exc:
        return TruthView(error=("truth.refused", str(exc)))
    rounded = a != t0 or b != t1
    return TruthView(compare(measured, report, ctx), None, a, b, rounded, cut)
