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
from shopfloor import clock
from shopfloor.store.base import Store, StoreError
from shopfloor.store.report import report_from_store

# States the calendar lays over whatever the machine is doing, and a repair, which returns to
# what it interrupted: neither says whether the machine holds a part.
OVERLAYS = frozenset({"planned_stop", "off", "down"})
# The flow states in which a station holds a part it took and has not finished yet.
HOLDING = frozenset({"running", "setup"})
# How far back to look for the flow state under an overlay: a break, a night, a weekend.
LOOKBACK_MS = (2 * 3_600_000, 2 * 86_400_000, 16 * 86_400_000)


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
    # False when a neighbour's flow state lies beyond the look-back (an overlay of more than
    # 16 days): the level may then be up to 2 parts above the truth, see buffer_level.
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
    shift: str | None = None  # the current shift's name, for the andon


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

    Two cases it cannot see: a breakdown injected (by command) into a starved station whose
    part arrives during the repair puts the level 1 above the truth until the repair ends;
    and a restarted simulator (`sim --continue-from`) starts its buffers empty while its counts
    go on from the store, so the parts its buffers held at the stop stay counted (the level
    shown is then above the truth by up to that many, within the capacity).
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
    store: Store, t1_ms: int, latest: dict[str, tuple[int, str, str]], machines: list[str]
) -> tuple[dict[str, str | None], set[str]]:
    """Each machine's flow state at t1 (changes with ts < t1; `latest` is the newest of
    each), None when it has had none yet (every station starts with no part), and the
    machines whose flow state lies further back than the longest look-back (unknown). Only
    the machines now under an overlay are read further back: alone when they are few, else
    in one read for the plant (a break overlays every machine at once)."""
    out: dict[str, str | None] = {}
    todo = []
    for m in machines:
        if m in latest and latest[m][1] not in OVERLAYS:
            out[m] = latest[m][1]
        else:
            todo.append(m)
    for back in LOOKBACK_MS:
        if not todo:
            break
        if len(todo) <= 4:
            changes = {}
            for m in todo:
                changes.update(store.states(t1_ms - back, t1_ms, m))
        else:
            changes = store.states(t1_ms - back, t1_ms)
        left = []
        for m in todo:
            got = changes.get(m, [])
            state = flow_state(got)
            # The list starts with the change before the window, if there is one: when it
            # starts inside the window, the window holds all of the machine's history.
            if state is not None or not got or got[0][0] >= t1_ms - back:
                out[m] = state
            else:
                left.append(m)
        todo = left
    out.update(dict.fromkeys(todo))
    return out, set(todo)


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
        if buffers:
            # ts <= t1 - 1 for counts, as ts < t1 for states: one instant for both.
            counts = ctx.store.counter_at("count", t1_ms - 1)
            flows, unknown = flow_states(ctx.store, t1_ms, latest, machines)
    except StoreError as exc:
        return Lines([], str(exc), t0_ms, t1_ms)
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
                    level = buffer_level(
                        int(counts[before][1].get("good", 0)),
                        int(counts[after][1].get("total", 0)),
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
