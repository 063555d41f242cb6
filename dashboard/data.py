"""The fetch step of the callbacks: store -> shopfloor KPI math, nothing drawn here."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from dashboard.context import DashContext
from dashboard.notices import (
    NO_DATA,
    Notice,
    ShiftShown,
    no_planned,
    shift_shown,
    shown_notice,
    store_error,
)
from shopfloor import clock
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import StoreError
from shopfloor.store.meter_rollup import QUARTER_MS, floor_quarter
from shopfloor.store.report import (
    energy_by_quarter,
    loss_durations,
    plant_energy_by_quarter,
    report_from_store,
    report_series,
    report_windows,
)
from shopfloor.store.rollup import floor_hour
from shopfloor.timerange import current_shift_s, resolve, shift_windows


class RangeError(StoreError):
    """A custom range that cannot be used; the page shows its notice (one message, no charts)."""

    def __init__(self, message: str, notice: Notice):
        super().__init__(message)
        self.notice = notice


def range_spec(range_kind: str | None, start: str | None = None, end: str | None = None) -> str:
    """The header's range as one value: a named range, or custom|<start>|<end> (local times)."""
    if range_kind == "custom":
        return f"custom|{start or ''}|{end or ''}"
    return range_kind or "current_shift"


def _local_ms(text: str, ctx: DashContext, name: str) -> int:
    if not text:
        raise RangeError(
            f"custom range: set its {name} (local time, {ctx.tz.key})",
            Notice(f"notice.custom_{name}", {"tz": ctx.tz.key}),
        )
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise RangeError(
            f"custom range: {name} {text!r} is not a date and time",
            Notice("notice.custom_bad", {"value": text}),
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ctx.tz)
    return int(local.timestamp() * 1000)


def window_ms(ctx: DashContext, range_kind: str, now_s: float | None) -> tuple[int, int]:
    """The range as [t0, t1) epoch ms; a named range's t1 includes the instant `now`."""
    if range_kind.startswith("custom|"):
        _, start, end = range_kind.split("|", 2)
        t0, t1 = _local_ms(start, ctx, "start"), _local_ms(end, ctx, "end")
        if t1 <= t0:
            raise RangeError(
                "custom range: the end must be after the start", Notice("notice.custom_order")
            )
        return t0, t1
    t0, t1 = resolve(range_kind, clock.now_s() if now_s is None else now_s, ctx.calendar)
    return int(t0 * 1000), int(t1 * 1000) + 1


def machine_paths(ctx: DashContext) -> dict[str, str]:
    """The plant's machines in order, each with area/line/machine (its cmd topic's levels):
    from the config, else from the store."""
    if ctx.cfg is not None:
        return {st.id: f"{line.area}/{line.id}/{st.id}" for line, st in ctx.cfg.stations()}
    try:
        return {m.machine: f"{m.area}/{m.line}/{m.machine}" for m in ctx.store.machines()}
    except StoreError:
        return {}


@dataclass
class Overview:
    report: dict[str, Any] | None
    states: dict[str, tuple[str, str]]  # machine -> (state, reason) now
    error: str | None
    t0_ms: int
    t1_ms: int
    # The current shift beside another chosen range: (shift name, its report).
    shift: tuple[str, dict[str, Any]] | None = None
    # KPI cards (issue 10): the range cut into buckets (start ms, end ms, report) for the
    # sparklines, and the current shift against the one before it.
    trend: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    shifts: ShiftPair | None = None
    # Pages that stop misleading (issue 10): `notice` replaces a page of 0.0% (no planned
    # production in the range, naming the next shift's start; a custom range that cannot be
    # read); `shown` says which shift "current shift" is and whether it has ended.
    notice: Notice | None = None
    shown: ShiftShown | None = None


def range_notes(
    ctx: DashContext, planned_s: float, t1_ms: int, now_s: float
) -> tuple[Notice | None, ShiftShown | None]:
    """(the no-planned-production notice when nothing was planned in the range, which shift
    "current shift" shows at `now_s`)."""
    notice = no_planned(t1_ms, ctx.calendar) if planned_s <= 0 else None
    return notice, shift_shown(now_s, ctx.calendar)


def range_notice(ctx: DashContext, range_kind: str, now_s: float | None = None) -> Notice | None:
    """The notice of a custom range that cannot be read; None when it can."""
    try:
        window_ms(ctx, range_kind, now_s)
    except RangeError as exc:
        return exc.notice
    return None


def shift_caption(range_kind: str, now_s: float | None, ctx: DashContext) -> Notice | None:
    """For the "current shift" range: which shift it shows (a page says so above its charts)."""
    if range_kind != "current_shift":
        return None
    shown = shift_shown(clock.now_s() if now_s is None else now_s, ctx.calendar)
    return shown_notice(shown) if shown else None


@dataclass
class ShiftPair:
    """The current shift and the one before it over the same elapsed time (so a shift under
    way is compared with the same part of the last one, counts included)."""

    name: str
    start_ms: int
    report: dict[str, Any]
    before_name: str
    before_start_ms: int
    before: dict[str, Any]


def previous_shift_s(now_s: float, cal: ShiftCalendar) -> tuple[tuple[str, float, float], ...]:
    """((name, start, end) of the current shift, the same of the one before it, clipped to the
    current one's elapsed time); () when there is none before (8 days back)."""
    s0, s1, name = current_shift_s(now_s, cal)
    before = shift_windows(s0 - 8 * 86400, s0, cal)
    if not before:
        return ()
    b_name, b0, b1 = before[-1]
    return (name or "", s0, s1), (b_name, b0, min(b1, b0 + (s1 - s0)))


# A sparkline's points at most: each is a report of the whole plant, read and built with the
# range's (bench/bench_dash.py: the refresh's budget on config/large.yaml).
TREND_POINTS = 12


def trend_bounds(ctx: DashContext, t0_ms: int, t1_ms: int) -> list[tuple[int, int]]:
    """The sparklines' buckets: hours for a day or less, else shifts (days for a plant without
    shifts); past TREND_POINTS, neighbours are merged (two hours, two shifts, ...)."""
    if t1_ms - t0_ms <= 26 * 3_600_000:
        wins = list(pairwise(hour_bounds(t0_ms, t1_ms)))
    else:
        # A window ending at the range's end shares its end (and so its counter reads).
        wins = [
            (max(t0_ms, round(a * 1000)), t1_ms if b * 1000 >= t1_ms - 1 else round(b * 1000))
            for _, a, b in shift_windows(t0_ms / 1000, t1_ms / 1000, ctx.calendar)
        ]
    if len(wins) <= TREND_POINTS:
        return wins
    k = -(-len(wins) // TREND_POINTS)
    return [(wins[i][0], wins[min(i + k, len(wins)) - 1][1]) for i in range(0, len(wins), k)]


@dataclass
class CardWindows:
    trend: list[tuple[int, int]]
    shifts: tuple[tuple[str, float, float], ...]

    def shift_ms(self) -> list[tuple[int, int]]:
        """The current shift's window as window_ms makes it (so it is read once with the
        range), and the previous one's over exactly the same length: it ends on a whole hour
        when the current one does, so it needs no raw read of a partial hour."""
        if not self.shifts:
            return []
        (_, s0, s1), (_, b0, _) = self.shifts
        now = (int(s0 * 1000), int(s1 * 1000) + 1)
        before = int(b0 * 1000)
        return [now, (before, before + int(s1 * 1000) - now[0])]

    def windows(self) -> list[tuple[int, int]]:
        return self.trend + self.shift_ms()

    def reports(
        self, by_window: dict[tuple[int, int], dict[str, Any]]
    ) -> tuple[list[tuple[int, int, dict[str, Any]]], ShiftPair | None]:
        trend = [(a, b, by_window[(a, b)]) for a, b in self.trend]
        if not self.shifts:
            return trend, None
        (name, s0, _), (b_name, b0, _) = self.shifts
        now, before = (by_window[w] for w in self.shift_ms())
        if not now["machines"] or not before["machines"]:
            return trend, None
        pair = ShiftPair(name, int(s0 * 1000), now, b_name, int(b0 * 1000), before)
        return trend, pair


class SharedReads:
    """A store for one refresh whose identical reads go to the store once: the windows of a
    refresh that end at the range's end (the range, the current shift, the open sparkline
    bucket) each read the same partial last hour raw, and InfluxDB answers each such read in
    about as long as a whole hour's. Everything else is the store's own."""

    def __init__(self, store: Any, closed: ClosedReads | None = None, now_s: float = 0.0) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._reads: dict[tuple[Any, ...], Future[Any]] = {}
        self._closed = closed
        self._settled_ms = now_s * 1000 - ClosedBuckets.SETTLED_MS

    def _once(self, key: tuple[Any, ...], read: Any, end_ms: int | None = None) -> Any:
        with self._lock:
            fut = self._reads.get(key)
            mine = fut is None
            if fut is None:
                fut = self._reads[key] = Future()
        if mine:
            keep = self._closed is not None and end_ms is not None and end_ms <= self._settled_ms
            try:
                hit = self._closed.get(self._store, key) if keep else None  # type: ignore[union-attr]
                value = read() if hit is None else hit[0]
                if keep and hit is None:
                    self._closed.put(self._store, key, value)  # type: ignore[union-attr]
                fut.set_result(value)
            except BaseException as exc:
                fut.set_exception(exc)
        return fut.result()

    def states(self, t0: int, t1: int, machine: str | None = None) -> Any:
        key = ("states", t0, t1, machine)
        return self._once(key, lambda: self._store.states(t0, t1, machine), t1)

    def state_hours(self, h0: int, h1: int) -> Any:
        cut = floor_hour(int(self._settled_ms))
        if self._closed is None or not h0 < cut < h1:
            return self._once(("hours", h0, h1), lambda: self._store.state_hours(h0, h1), h1)
        # A sum that ends in the last minute (the range and the current shift at the top of
        # the hour): its settled hours are kept, only the newest are read. On InfluxDB 1.x the
        # week's sum was the critical path of a refresh (180 ms of 225 machines x 168 hours).
        old = self._once(("hours", h0, cut), lambda: self._store.state_hours(h0, cut), cut)
        new = self._once(("hours", cut, h1), lambda: self._store.state_hours(cut, h1), h1)
        out = {m: dict(secs) for m, secs in old.items()}
        for m, secs in new.items():
            mine = out.setdefault(m, {})
            for s, v in secs.items():
                mine[s] = mine.get(s, 0.0) + v
        return out

    def energy_quarter_sums(self, q0: int, q1: int, machines: list[str]) -> dict[int, float]:
        """The plant's quarters: the settled ones kept, the last minute's read (disjoint
        quarters, so the same numbers as one read)."""
        key = tuple(machines)
        out: dict[int, float] = {}
        for a, b in self._settled_split(q0, q1, floor_quarter):
            part = self._once(
                ("quarter_sums", a, b, key),
                lambda a=a, b=b: self._store.energy_quarter_sums(a, b, machines),  # type: ignore[misc]
                b,
            )
            out.update(part)
        return out

    def energy_quarters(self, q0: int, q1: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for a, b in self._settled_split(q0, q1, floor_quarter):
            part = self._once(
                ("quarters", a, b),
                lambda a=a, b=b: self._store.energy_quarters(a, b),  # type: ignore[misc]
                b,
            )
            for m, rows in part.items():
                out[m] = out.get(m, []) + rows
        return out

    def _settled_split(self, t0: int, t1: int, floor: Any) -> list[tuple[int, int]]:
        """[t0, t1) cut where its settled part ends (at a bucket start), if it has both."""
        cut = floor(int(self._settled_ms))
        if self._closed is None or not t0 < cut < t1:
            return [(t0, t1)]
        return [(t0, cut), (cut, t1)]

    def machines(self) -> Any:
        # One refresh reads the machine list once (never kept across refreshes: it says who
        # is online now).
        return self._once(("machines",), self._store.machines)

    def last_changes(self, t: int, machine: str | None = None) -> Any:
        key = ("last_changes", t, machine)
        return self._once(key, lambda: self._store.last_changes(t, machine), t)

    def counter_at(self, channel: str, t: int, machine: str | None = None) -> Any:
        key = ("counter", channel, t, machine)
        return self._once(key, lambda: self._store.counter_at(channel, t, machine), t + 1)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class ClosedBuckets:
    """Reports of sparkline buckets that ended over a minute ago, kept for a minute: a live
    page refreshes every few seconds and such a bucket changes only when data arrives late
    (then its point shows it within a minute). An entry holds its store and config, so it is
    found only for those same objects."""

    TTL_S = 60.0
    SETTLED_MS = 60_000  # a bucket's late records (the collector's batches) are in by then
    MOST = 512

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[int, int], tuple[float, Any, Any, dict[str, Any]]] = {}

    def get(
        self, ctx: DashContext, windows: list[tuple[int, int]]
    ) -> dict[tuple[int, int], dict[str, Any]]:
        fresh = time.monotonic() - self.TTL_S
        with self._lock:
            found = {w: self._kept.get(w) for w in windows}
        return {
            w: hit[3]
            for w, hit in found.items()
            if hit is not None and hit[0] > fresh and hit[1] is ctx.store and hit[2] is ctx.cfg
        }

    def put(
        self, ctx: DashContext, reports: dict[tuple[int, int], dict[str, Any]], now_s: float
    ) -> None:
        settled = now_s * 1000 - self.SETTLED_MS
        stamp = time.monotonic()
        with self._lock:
            if len(self._kept) > self.MOST:
                self._kept = {k: v for k, v in self._kept.items() if v[0] > stamp - self.TTL_S}
            for w, report in reports.items():
                if w[1] <= settled and report["machines"] and len(self._kept) <= self.MOST:
                    self._kept[w] = (stamp, ctx.store, ctx.cfg, report)


CLOSED_BUCKETS = ClosedBuckets()


class ClosedReads:
    """Store reads that end over a minute before now (hour-rollup sums, counters at past
    window ends, raw partial hours), kept for a minute as ClosedBuckets keeps reports: on
    InfluxDB 1.x the rollup sums of the range and both shifts were most of a refresh (about
    14 ms per summed state per week for 225 machines), and they change only when late data
    arrives. Results are shared, never modified (report_windows copies what it adds to)."""

    TTL_S = ClosedBuckets.TTL_S
    MOST = 512

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[Any, ...], tuple[float, Any, Any]] = {}

    def get(self, store: Any, key: tuple[Any, ...]) -> tuple[Any] | None:
        with self._lock:
            hit = self._kept.get(key)
        if hit is None or hit[0] <= time.monotonic() - self.TTL_S or hit[1] is not store:
            return None
        return (hit[2],)

    def put(self, store: Any, key: tuple[Any, ...], value: Any) -> None:
        stamp = time.monotonic()
        with self._lock:
            if len(self._kept) >= self.MOST:
                self._kept = {k: v for k, v in self._kept.items() if v[0] > stamp - self.TTL_S}
            if len(self._kept) < self.MOST:
                self._kept[key] = (stamp, store, value)


CLOSED_READS = ClosedReads()


def card_windows(ctx: DashContext, now_s: float, t0_ms: int, t1_ms: int) -> CardWindows:
    return CardWindows(trend_bounds(ctx, t0_ms, t1_ms), previous_shift_s(now_s, ctx.calendar))


def overview(ctx: DashContext, range_kind: str, now_s: float | None = None) -> Overview:
    now = clock.now_s() if now_s is None else now_s
    try:
        t0_ms, t1_ms = window_ms(ctx, range_kind, now)
        windows = [(t0_ms, t1_ms)]
        if range_kind != "current_shift":
            s0, s1, name = current_shift_s(now, ctx.calendar)
            windows.append((int(s0 * 1000), int(s1 * 1000) + 1))
        cards = card_windows(ctx, now, t0_ms, t1_ms)
        kept = CLOSED_BUCKETS.get(ctx, cards.trend)
        # One set of reads for all the windows (duplicates read once).
        unique = [w for w in dict.fromkeys(windows + cards.windows()) if w not in kept]
        shared = SharedReads(ctx.store, CLOSED_READS, now)
        reports = report_windows(shared, unique, ctx.cfg)  # type: ignore[arg-type]
        by_window = dict(zip(unique, reports, strict=True))
        CLOSED_BUCKETS.put(ctx, {w: by_window[w] for w in cards.trend if w in by_window}, now)
        by_window.update(kept)
        reports = [by_window[w] for w in windows]
        report = reports[0]
        latest = ctx.store.last_changes(t1_ms)
        shift = (name or "", reports[1]) if len(reports) > 1 else None
    except StoreError as exc:
        return Overview(None, {}, store_error(exc), 0, 0, notice=getattr(exc, "notice", None))
    states = {m: (state, reason) for m, (_, state, reason) in latest.items()}
    if not report["machines"]:
        return Overview(None, states, NO_DATA, t0_ms, t1_ms, shown=shift_shown(now, ctx.calendar))
    if shift is not None and not shift[1]["machines"]:
        shift = None
    trend, shifts = cards.reports(by_window)
    notice, shown = range_notes(ctx, report["plant"]["planned_s"], t1_ms, now)
    return Overview(report, states, None, t0_ms, t1_ms, shift, trend, shifts, notice, shown)


@dataclass
class MachineView:
    machine: str
    changes: list[tuple[int, str, str]]
    power: list[tuple[int, float]]
    entry: dict[str, Any] | None
    breakdowns: list[tuple[int, float, str]]  # (start ms, minutes, reason), newest first
    error: str | None
    t0_ms: int
    t1_ms: int
    by_hour: list[tuple[int, dict[str, Any] | None]] = field(default_factory=list)
    by_shift: list[tuple[str, int, dict[str, Any] | None]] = field(default_factory=list)
    notice: Notice | None = None  # no planned production for this machine in the range


def hour_bounds(t0_ms: int, t1_ms: int) -> list[int]:
    """t0, every whole hour after it, t1: the hours of the range, partial ones at its ends."""
    first = -(-t0_ms // 3_600_000) * 3_600_000
    # t1 is "now" plus 1 ms (window_ms): no 1-ms hour after the last whole one.
    return [t0_ms, *(h for h in range(first, t1_ms - 1, 3_600_000) if h > t0_ms), t1_ms]


def machine_view(
    ctx: DashContext, machine: str, range_kind: str, now_s: float | None = None, points: int = 600
) -> MachineView:
    """One machine over a range; power is averaged into at most `points` buckets (a page
    never fetches raw samples it does not draw)."""
    t0_ms = t1_ms = 0
    try:
        t0_ms, t1_ms = window_ms(ctx, range_kind, now_s)
        changes = ctx.store.states(t0_ms, t1_ms, machine).get(machine, [])
        power = ctx.store.samples(
            machine, t0_ms, t1_ms, every_ms=max(1000, (t1_ms - t0_ms) // points)
        )
        report = report_series(ctx.store, [t0_ms, t1_ms], ctx.cfg, machine)[0]
        hours = hour_bounds(t0_ms, t1_ms)
        by_hour = [
            (a, r["machines"].get(machine))
            for a, r in zip(hours, report_series(ctx.store, hours, ctx.cfg, machine), strict=False)
        ]
        by_shift = [
            (name, a, r["machines"].get(machine))
            for name, a, r in shift_reports(ctx, t0_ms, t1_ms, machine)
        ]
    except StoreError as exc:
        view = MachineView(machine, [], [], None, [], store_error(exc), t0_ms, t1_ms)
        view.notice = getattr(exc, "notice", None)
        return view
    downs: list[tuple[int, float, str]] = []
    calendar_only = False  # only breaks / off time since the last down interval
    for i, (ts, state, reason) in enumerate(changes):
        if state == "down" and ts >= t0_ms:
            end = changes[i + 1][0] if i + 1 < len(changes) else t1_ms
            minutes = (min(end, t1_ms) - ts) / 60000
            if downs and calendar_only and downs[-1][2] == reason:
                # A repair interrupted by a break or the end of a shift is one breakdown.
                start, before, _ = downs[-1]
                downs[-1] = (start, before + minutes, reason)
            else:
                downs.append((ts, minutes, reason))
            calendar_only = True
        elif state not in ("planned_stop", "off"):
            calendar_only = False
    entry = report["machines"].get(machine)
    error = None if entry or changes or power else "no data for this machine in this range yet"
    notice = no_planned(t1_ms, ctx.calendar) if entry and entry["planned_s"] <= 0 else None
    return MachineView(
        machine, changes, power, entry, sorted(downs, reverse=True), error, t0_ms, t1_ms,
        by_hour, by_shift, notice,
    )  # fmt: skip


@dataclass
class Losses:
    report: dict[str, Any] | None
    pareto: list[tuple[str, str, float]]  # (state, reason, hours), largest first
    bottlenecks: dict[str, str]  # line -> station
    error: str | None
    notice: Notice | None = None  # a custom range that cannot be read; nothing planned


def bottleneck(report: dict[str, Any], line_id: str) -> str:
    """The active-period method: the station busiest (running, down or in setup) over its
    planned time is the one that starves the stations after it and blocks those before."""
    stations = report["lines"][line_id]["stations"]

    def active(mid: str) -> float:
        m = report["machines"][mid]
        return (
            (m["running_s"] + m["down_s"] + m["setup_s"]) / m["planned_s"]
            if m["planned_s"]
            else 0.0
        )

    return max(stations, key=active)


def losses(ctx: DashContext, range_kind: str, now_s: float | None = None) -> Losses:
    try:
        t0_ms, t1_ms = window_ms(ctx, range_kind, now_s)
        report = report_from_store(ctx.store, t0_ms, t1_ms, ctx.cfg)
        infos = ctx.store.machines()
        ends = {
            m.machine: min(t1_ms, m.last_ts + 1) if m.last_ts else t1_ms
            for m in infos
            if m.machine in report["machines"]
        }
        by_reason = loss_durations(ctx.store, t0_ms, t1_ms, ends)
    except StoreError as exc:
        return Losses(None, [], {}, store_error(exc), getattr(exc, "notice", None))
    if not report["machines"]:
        return Losses(None, [], {}, NO_DATA)
    if report["plant"]["planned_s"] <= 0:
        return Losses(None, [], {}, None, no_planned(t1_ms, ctx.calendar))
    pareto = sorted(
        ((s, r, secs / 3600) for (s, r), secs in by_reason.items() if secs > 0),
        key=lambda x: -x[2],
    )
    return Losses(report, pareto, {lid: bottleneck(report, lid) for lid in report["lines"]}, None)


@dataclass
class Energy:
    report: dict[str, Any] | None
    by_state_kwh: dict[str, float]  # the whole plant, from state durations x rated power per state
    demand_kw: list[tuple[int, float]]  # 15-minute mean demand of the plant
    # Metered kWh per 15 minutes per line and per machine: with a tariff only (they price the
    # cost; without one the page draws none of them).
    line_kwh: dict[str, list[tuple[int, float]]]
    machine_kwh: dict[str, list[tuple[int, float]]]
    shifts: list[tuple[str, int, dict[str, Any]]]  # (shift, start ms, its report)
    error: str | None


def shift_reports(
    ctx: DashContext, t0_ms: int, t1_ms: int, machine: str | None = None
) -> list[tuple[str, int, dict[str, Any]]]:
    """One report per shift worked in the range (breaks included)."""
    wins = shift_list(ctx, t0_ms, t1_ms)
    reports = report_windows(ctx.store, [(a, b) for _, a, b in wins], ctx.cfg, machine)
    return [(name, a, r) for (name, a, _), r in zip(wins, reports, strict=True)]


def shift_list(ctx: DashContext, t0_ms: int, t1_ms: int) -> list[tuple[str, int, int]]:
    """(name, start ms, end ms) of each shift worked in the range, clipped to it. Only the
    shifts: the nights and Sundays between them are no window of their own (reading them,
    as consecutive bounds did, cost a third more windows for nothing)."""
    windows = shift_windows(t0_ms / 1000, t1_ms / 1000, ctx.calendar)
    return [(name, int(a * 1000), int(b * 1000)) for name, a, b in windows]


def energy(ctx: DashContext, range_kind: str, now_s: float | None = None) -> Energy:
    now = clock.now_s() if now_s is None else now_s
    # As the overview's: a refresh's identical reads made once, and the rollup sums, counters
    # and meter quarters that ended over a minute ago kept a minute (on InfluxDB 1.x a week's
    # page made ~70 queries, 1.3-3 s; a live page's refresh now reads the last minute's).
    store: Any = SharedReads(ctx.store, CLOSED_READS, now)
    try:
        t0_ms, t1_ms = window_ms(ctx, range_kind, now)
        wins = shift_list(ctx, t0_ms, t1_ms)
        # With a config the machine list is read inside report_windows, beside its other
        # first reads (shared: one read), not before everything else.
        ours = (
            [st.id for _, st in ctx.cfg.stations()]
            if ctx.cfg is not None
            else [m.machine for m in store.machines()]
        )
        priced = ctx.cfg is not None and ctx.cfg.energy is not None and ctx.cfg.energy.tariff
        # The range and each of its shifts in one report_windows: one machine list, one read
        # of the newest changes and of the counters at each distinct instant for all of them
        # (a week has ~13 shifts); the meter quarters meanwhile, side by side. Each machine's
        # quarters only price the lines' and machines' cost: without a tariff the page draws
        # the plant's demand alone, which the store sums (a week of 225 machines is 150,000
        # quarters, the plant's curve 672).
        with ThreadPoolExecutor(1) as pool:
            f_quarters = (
                pool.submit(energy_by_quarter, store, t0_ms, t1_ms)
                if priced
                else pool.submit(plant_energy_by_quarter, store, t0_ms, t1_ms, ours)
            )
            windows = [(t0_ms, t1_ms), *((a, b) for _, a, b in wins)]
            # The shifts' trend draws the plant: no machine entries for them.
            report, *per_shift = report_windows(store, windows, ctx.cfg, lean=1)
            got = f_quarters.result()
        infos = {m.machine: m for m in store.machines()}
        if not report["machines"]:
            return Energy(None, {}, [], {}, {}, [], NO_DATA)
        shifts = [(name, a, r) for (name, a, _), r in zip(wins, per_shift, strict=True)]
    except StoreError as exc:
        return Energy(None, {}, [], {}, {}, [], store_error(exc))
    quarters: dict[str, dict[int, float]] = {}
    lines: dict[str, dict[int, float]] = {}
    if priced:
        quarters = {m: q for m, q in got.items() if m in report["machines"]}
        plant: dict[int, float] = {}
        for mid, rows in quarters.items():
            line = lines.setdefault(report["machines"][mid]["line"], {})
            for ts, kwh in rows.items():
                plant[ts] = plant.get(ts, 0.0) + kwh
                line[ts] = line.get(ts, 0.0) + kwh
    else:
        plant = got
    demand = [(ts, kwh * 3_600_000 / QUARTER_MS) for ts, kwh in sorted(plant.items())]
    by_state: dict[str, float] = {}
    for mid, m in report["machines"].items():
        power = (infos[mid].power_kw if mid in infos else None) or {}
        for state, kw in power.items():
            by_state[state] = by_state.get(state, 0.0) + m.get(f"{state}_s", 0.0) * kw / 3600
    line_kwh = {line: sorted(rows.items()) for line, rows in lines.items()}
    machine_kwh = {mid: sorted(rows.items()) for mid, rows in quarters.items()}
    return Energy(report, by_state, demand, line_kwh, machine_kwh, shifts, None)
