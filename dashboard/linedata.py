"""The fetch step of the line view and the andon: each line in flow order, its stations' live
states, its buffers' fill levels, its KPIs over a range and its bottleneck.

Buffer levels are not sent (the telemetry contract has no buffer channel); they are derived
from the cumulative counts and the last state of the two stations around each buffer, which is
exact within one simulator run (see `buffer_level`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from dashboard.context import DashContext
from dashboard.data import NO_DATA, bottleneck, window_ms
from dashboard.notices import store_error
from shopfloor import clock
from shopfloor.store.base import Store, StoreError
from shopfloor.store.report import report_from_store

# States the calendar lays over whatever the machine is doing, and a repair, which returns to
# what it interrupted: neither says whether the machine holds a part.
OVERLAYS = frozenset({"planned_stop", "off", "down"})
# The flow states in which a station holds a part it took and has not finished yet.
HOLDING = frozenset({"running", "setup"})
# Overlays in a row to read back through before giving up (a repair across a break and the
# end of a shift is three).
MAX_STEPS = 16


@dataclass
class StationView:
    machine: str
    state: str | None  # the last state stored, None when the store has none yet
    reason: str
    since_ms: int | None  # when that state began
    entry: dict[str, Any] | None  # the station's KPIs over the range (report shape)


@dataclass
class BufferView:
    after: str  # the station that fills it; the next station of the line empties it
    level: int | None  # parts in it; None when a neighbour sends no counts (legacy)
    capacity: int | None  # from the config's `buffer:` key (None without a config)
    # False when a neighbour's flow state lies under more than MAX_STEPS overlays in a row:
    # the level may then be up to 2 parts above the truth, see buffer_level.
    exact: bool = True


@dataclass
class LineView:
    line: str
    stations: list[StationView]
    buffers: list[BufferView]  # buffers[i] sits between stations[i] and stations[i + 1]
    entry: dict[str, Any] | None  # the line's KPIs over the range
    bottleneck: str | None


@dataclass
class Lines:
    lines: list[LineView]
    error: str | None
    t0_ms: int
    t1_ms: int


def buffer_level(
    good_before: int,
    total_after: int,
    flow_before: str | None,
    flow_after: str | None,
    capacity: int | None,
) -> int:
    """Parts in the buffer between two stations, from what is stored about them.

    Every good part of the station before goes into the buffer (scrap is taken out of the
    line, simulator/station.py), except one it still holds, finished, while it is blocked by a
    full buffer. Every part the station after took left the buffer: those it finished (its
    total count) plus one it is working on (running, or in a changeover for it). So

        level = good(before) - [before is blocked] - total(after) - [after holds a part]

    exactly, when both flow states are known. A flow state hidden under a break, the night or
    a repair is the last one before it (nothing moves while the calendar stops the line; a
    repair returns to what it interrupted). An unknown flow state counts as holding nothing,
    which can put the level up to 2 above the truth; the capacity caps it.

    A restarted simulator (`sim --continue-from`) starts its buffers empty while its counts go
    on from the store: the counts are then taken from its birth on (see run_starts). Two
    cases this cannot see: a breakdown injected (by command) into a starved station whose
    part arrives during the repair puts the level 1 above the truth until the repair ends;
    and an instant viewed before the newest restart, whose run's birth the store no longer
    holds, is counted from the first run (above the truth by what the buffer held at each
    restart since, within the capacity).
    """
    level = good_before - total_after
    level -= flow_before == "blocked"
    level -= flow_after in HOLDING
    level = max(level, 0)
    return min(level, capacity) if capacity is not None else level


def flow_state(changes: list[tuple[int, str, str]]) -> str | None:
    """The newest state of a machine that is not an overlay (break, off shift, down)."""
    for _, state, _ in reversed(changes):
        if state not in OVERLAYS:
            return state
    return None


def flow_states(
    store: Store,
    latest: dict[str, tuple[int, str, str]],
    machines: list[str],
    births: dict[str, int],
) -> tuple[dict[str, str | None], set[str]]:
    """Each machine's flow state at an instant (`latest`: its newest change before it), None
    when it has had none yet in its current run (which starts every station with no part:
    `births`, see run_starts), and the machines whose flow state lies under more than
    MAX_STEPS overlays in a row (unknown). A machine under an overlay is read back one change
    at a time, each an index seek (a weekend is one step)."""
    out: dict[str, str | None] = {}
    unknown: set[str] = set()
    for m in machines:
        if m not in latest:
            out[m] = None
            continue
        ts, state, _ = latest[m]
        flow: str | None = None if state in OVERLAYS else state
        birth = births.get(m, 0)
        steps = 0
        while flow is None and steps < MAX_STEPS:
            # The change before ts, then every change at ts (same millisecond) in seq order;
            # an earlier run's changes say nothing of this one.
            got = [c for c in store.states(ts, ts + 1, m).get(m, []) if c[0] >= birth]
            flow = flow_state(got)
            if flow is not None or not got or got[0][0] >= ts:
                break  # found, or nothing before: overlays since the machine's first state
            ts = got[0][0]
            steps += 1
        else:
            if flow is None and state in OVERLAYS:
                unknown.add(m)
        out[m] = flow
    return out, unknown


def births_before(store: Store, t1_ms: int) -> dict[str, int]:
    """Each machine's newest birth, when it is before t1: the start of its current run."""
    return {i.machine: i.birth_ts for i in store.machines() if 0 < i.birth_ts < t1_ms}


def run_starts(order: dict[str, list[str]], births: dict[str, int]) -> dict[tuple[str, str], int]:
    """Per buffer (the stations before and after it), when the run that fills it now began:
    the later of the two stations' births. A simulator starts every buffer empty, so a
    restarted one (sim --continue-from, the demo's second start) has its levels counted from
    there; the counts before it belong to parts the model dropped."""
    out = {}
    for ids in order.values():
        for before, after in pairwise(ids):
            start = max(births.get(before, 0), births.get(after, 0))
            if start:
                out[(before, after)] = start
    return out


def line_order(ctx: DashContext) -> dict[str, list[str]]:
    """Each line's stations in flow order: from the config, else from the births' positions."""
    if ctx.cfg is not None:
        return {line.id: [st.id for st in line.stations] for line in ctx.cfg.lines}
    order: dict[str, list[str]] = {}
    for info in sorted(ctx.store.machines(), key=lambda i: (i.line, i.position, i.machine)):
        order.setdefault(info.line, []).append(info.machine)
    return order


def capacities(ctx: DashContext) -> dict[str, int]:
    """The buffer after each station (not the last of its line), from the config."""
    if ctx.cfg is None:
        return {}
    return {st.id: st.buffer for line in ctx.cfg.lines for st in line.stations[:-1]}


def lines(
    ctx: DashContext, range_kind: str, now_s: float | None = None, buffers: bool = True
) -> Lines:
    """Every line over the range, live states and buffer levels at its end."""
    now = clock.now_s() if now_s is None else now_s
    t0_ms = t1_ms = 0
    try:
        t0_ms, t1_ms = window_ms(ctx, range_kind, now)
        order = line_order(ctx)
        report = report_from_store(ctx.store, t0_ms, t1_ms, ctx.cfg)
        latest = ctx.store.last_changes(t1_ms)
        machines = [m for ms in order.values() for m in ms]
        counts: dict[str, tuple[int, dict[str, float]]] = {}
        flows: dict[str, str | None] = {}
        unknown: set[str] = set()
        starts: dict[tuple[str, str], int] = {}
        bases: dict[int, dict[str, tuple[int, dict[str, float]]]] = {}
        if buffers:
            # ts <= t1 - 1 for counts, as ts < t1 for states: one instant for both.
            counts = ctx.store.counter_at("count", t1_ms - 1)
            births = births_before(ctx.store, t1_ms)
            flows, unknown = flow_states(ctx.store, latest, machines, births)
            starts = run_starts(order, births)
            bases = {ts: ctx.store.counter_at("count", ts) for ts in set(starts.values())}
    except StoreError as exc:
        return Lines([], store_error(exc), t0_ms, t1_ms)
    if not order:
        return Lines([], NO_DATA, t0_ms, t1_ms)
    caps = capacities(ctx)
    views = []
    for lid, ids in order.items():
        stations = []
        for m in ids:
            ts, state, reason = latest.get(m, (None, None, ""))
            stations.append(StationView(m, state, reason, ts, report["machines"].get(m)))
        bufs = []
        if buffers:
            for before, after in pairwise(ids):
                level = None
                if before in counts and after in counts:
                    # Counted from the publisher's current run, which began with it empty.
                    base = bases.get(starts.get((before, after), -1), {})
                    level = buffer_level(
                        int(counts[before][1].get("good", 0))
                        - int(base.get(before, (0, {}))[1].get("good", 0)),
                        int(counts[after][1].get("total", 0))
                        - int(base.get(after, (0, {}))[1].get("total", 0)),
                        flows.get(before),
                        flows.get(after),
                        caps.get(before),
                    )
                exact = not {before, after} & unknown
                bufs.append(BufferView(before, level, caps.get(before), exact))
        line_entry = report["lines"].get(lid)
        neck = bottleneck(report, lid) if line_entry else None
        views.append(LineView(lid, stations, bufs, line_entry, neck))
    return Lines(views, None, t0_ms, t1_ms)


def longest_down(view: LineView, now_ms: int) -> tuple[StationView, float] | None:
    """The station of the line down the longest now, and for how many minutes (its current
    down state so far); None when none is down."""
    down = [s for s in view.stations if s.state == "down" and s.since_ms is not None]
    if not down:
        return None
    first = min(down, key=lambda s: s.since_ms or 0)
    return first, max(0.0, (now_ms - (first.since_ms or now_ms)) / 60000)
