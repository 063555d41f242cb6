"""KPIs of a time range from stored data, in the report shape of the simulator's ground truth.

State durations replay the stored state changes, clipped to the range and to the last moment
each machine was heard from; counts and energy are differences of the cumulative readings at
the range's two ends; every ratio comes from kpi.oee through shopfloor.report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from shopfloor import kpi
from shopfloor.config.schema import PlantConfig
from shopfloor.orders import fold_events, orders_report
from shopfloor.report import MachineFacts, build_report
from shopfloor.store.base import MachineInfo, Store
from shopfloor.store.meter_rollup import QUARTER_MS, floor_quarter
from shopfloor.store.rollup import END_OF_TIME_MS, HOUR_MS, ceil_hour, floor_hour


def durations_from_changes(
    changes: list[tuple[int, str, str]], t0: int, t1: int
) -> dict[str, float]:
    """Seconds per state in [t0, t1) from (ts, state, reason) changes ordered by time."""
    out = dict.fromkeys(kpi.STATES, 0.0)
    for i, (ts, state, _) in enumerate(changes):
        start = max(ts, t0)
        end = min(changes[i + 1][0] if i + 1 < len(changes) else t1, t1)
        if end > start:
            out[state] += (end - start) / 1000.0
    return out


def add(into: dict[str, float], more: dict[str, float]) -> None:
    for s, v in more.items():
        into[s] = into.get(s, 0.0) + v


Changes = dict[str, list[tuple[int, str, str]]]


@dataclass
class HourSplit:
    """A range cut at whole hours: [t0, h0) and [h1, t1) read raw, [h0, h1) from a rollup,
    and each machine's newest change (the rollup holds closed intervals only)."""

    h0: int
    h1: int
    head: Changes
    tail: Changes
    whole: Any
    newest: dict[str, tuple[int, str, str]]

    def open_interval(self, m: str, end: int) -> list[tuple[int, str, str]]:
        """The newest change of `m` as a change at h0 or later, when it is still open at h1
        (so not in the rollup's [h0, h1))."""
        if m in self.newest and self.newest[m][0] < self.h1:
            ts, state, reason = self.newest[m]
            return [(max(ts, self.h0), state, reason)]
        return []


def hour_split(
    store: Store,
    t0: int,
    t1: int,
    whole: Callable[[int, int], Any],
    newest: dict[str, tuple[int, str, str]] | None = None,
    machine: str | None = None,
) -> HourSplit | None:
    """The reads for a range with at least one whole hour, side by side (a networked store
    answers them in parallel); None for a shorter range, which is read raw."""
    h0, h1 = ceil_hour(t0), floor_hour(t1)
    if h1 - h0 < HOUR_MS:
        return None
    if t0 == h0 and t1 == h1 and newest is not None:
        # Whole hours (a shift): the rollup is the only read, no threads to start for it
        # (a week's energy page has a window per shift).
        return HourSplit(h0, h1, {}, {}, whole(h0, h1), newest)
    with ThreadPoolExecutor(4) as pool:
        f_head = pool.submit(store.states, t0, h0, machine) if t0 < h0 else None
        f_tail = pool.submit(store.states, h1, t1, machine) if h1 < t1 else None
        f_whole = pool.submit(whole, h0, h1)
        f_newest = (
            pool.submit(store.last_changes, END_OF_TIME_MS, machine) if newest is None else None
        )
        return HourSplit(
            h0, h1,
            f_head.result() if f_head else {},
            f_tail.result() if f_tail else {},
            f_whole.result(),
            f_newest.result() if f_newest is not None else newest,  # type: ignore[arg-type]
        )  # fmt: skip


def state_durations(
    store: Store,
    t0: int,
    t1: int,
    ends: dict[str, int],
    newest: dict[str, tuple[int, str, str]] | None = None,
    machine: str | None = None,
) -> dict[str, dict[str, float]]:
    """Seconds per state per machine in [t0, min(t1, ends[machine])): whole hours from the
    stores' hour rollup, the partial hours at both ends from the raw changes."""
    split = hour_split(store, t0, t1, store.state_hours, newest, machine)
    if split is None:
        raw = store.states(t0, t1, machine)
        return {m: durations_from_changes(raw.get(m, []), t0, end) for m, end in ends.items()}
    h0, h1 = split.h0, split.h1
    out = {}
    zero = dict.fromkeys(kpi.STATES, 0.0)
    for m, end in ends.items():
        if not split.head and not split.tail and end >= h1:
            # Whole hours only (a shift): the rollup plus the open interval, if any.
            d = dict(split.whole.get(m) or zero)
            opened = split.open_interval(m, end)
            if opened:
                add(d, durations_from_changes(opened, h0, h1))
            out[m] = d
            continue
        d = durations_from_changes(split.head.get(m, []), t0, min(h0, end))
        add(d, split.whole.get(m, {}))
        add(d, durations_from_changes(split.open_interval(m, end), h0, min(h1, end)))
        add(d, durations_from_changes(split.tail.get(m, []), h1, min(t1, end)))
        out[m] = d
    return out


def losses_from_changes(
    changes: list[tuple[int, str, str]], t0: int, t1: int, into: dict[tuple[str, str], float]
) -> None:
    """Add the loss states' seconds per (state, reason) in [t0, t1) to `into`."""
    for i, (ts, state, reason) in enumerate(changes):
        if state not in kpi.AVAILABILITY_LOSS_STATES:
            continue
        start = max(ts, t0)
        end = min(changes[i + 1][0] if i + 1 < len(changes) else t1, t1)
        if end > start:
            key = (state, reason or state)
            into[key] = into.get(key, 0.0) + (end - start) / 1000.0


def loss_durations(
    store: Store, t0: int, t1: int, ends: dict[str, int]
) -> dict[tuple[str, str], float]:
    """Plant-wide seconds per (loss state, reason) in [t0, t1), each machine up to its end:
    whole hours from the rollup, the partial hours raw (as state_durations)."""
    out: dict[tuple[str, str], float] = {}
    split = hour_split(store, t0, t1, store.loss_hours)
    if split is None:
        for m, rows in store.states(t0, t1).items():
            losses_from_changes(rows, t0, ends.get(m, t1), out)
        return out
    h0, h1 = split.h0, split.h1
    for m, end in ends.items():
        losses_from_changes(split.head.get(m, []), t0, min(h0, end), out)
        losses_from_changes(split.open_interval(m, end), h0, min(h1, end), out)
        losses_from_changes(split.tail.get(m, []), h1, min(t1, end), out)
    for key, seconds in split.whole.items():
        out[key] = out.get(key, 0.0) + seconds
    return out


def quarters_from_readings(store: Store, t0: int, t1: int) -> dict[str, dict[int, float]]:
    """kWh per machine per quarter hour for the meter readings in [t0, t1), from one bucketed
    query: each quarter's newest reading minus the newest before it (the reading before t0
    for the first, or 0 for a machine's first reading, as the report's energy counts), never
    negative: the meter rollup's definition (shopfloor.store.meter_rollup)."""
    with ThreadPoolExecutor(1) as pool:  # both reads side by side on a networked store
        f_e0 = pool.submit(store.counter_at, "energy", t0 - 1)
        buckets = store.energy_buckets(t0, t1, QUARTER_MS)
        e0 = f_e0.result()
    out: dict[str, dict[int, float]] = {}
    for mid, rows in buckets.items():
        prev = float(e0[mid][1]["energy_kwh"]) if mid in e0 else 0.0
        mine = out.setdefault(mid, {})
        for ts, kwh in rows:
            mine[ts] = mine.get(ts, 0.0) + max(0.0, kwh - prev)
            prev = kwh
    return out


def energy_by_quarter(store: Store, t0: int, t1: int) -> dict[str, dict[int, float]]:
    """kWh per machine per quarter hour in [t0, t1): whole quarters from the store's meter
    rollup, the partial ones at both ends from the readings."""
    qa, qb = floor_quarter(t0 + QUARTER_MS - 1), floor_quarter(t1)
    if qb <= qa:
        return quarters_from_readings(store, t0, t1)
    # The rollup's quarters are the result's own dicts: only the partial ends are added in
    # (a week is 150,000 quarters for 225 machines; merging them twice showed in profiles).
    out = {m: dict(rows) for m, rows in store.energy_quarters(qa, qb).items()}
    parts = []
    if t0 < qa:
        parts.append(quarters_from_readings(store, t0, qa))
    if qb < t1:
        parts.append(quarters_from_readings(store, qb, t1))
    for part in parts:
        for m, rows in part.items():
            mine = out.setdefault(m, {})
            for q, kwh in rows.items():
                mine[q] = mine.get(q, 0.0) + kwh
    return out


def sum_quarters(quarters: dict[str, Any], groups: dict[str, str]) -> dict[str, dict[int, float]]:
    """Per group, kWh per quarter summed over its machines' (quarter, kWh) pairs or dicts."""
    out: dict[str, dict[int, float]] = {}
    for m, rows in quarters.items():
        if m not in groups:
            continue
        mine = out.setdefault(groups[m], {})
        for q, kwh in rows.items() if isinstance(rows, dict) else rows:
            mine[q] = mine.get(q, 0.0) + kwh
    return out


def plant_energy_by_quarter(
    store: Store, t0: int, t1: int, machines: list[str]
) -> dict[int, float]:
    """energy_by_quarter summed over `machines`: whole quarters summed by the store, the
    partial ones at both ends from the readings."""
    qa, qb = floor_quarter(t0 + QUARTER_MS - 1), floor_quarter(t1)
    plant = dict.fromkeys(machines, "")
    if qb <= qa:
        return sum_quarters(quarters_from_readings(store, t0, t1), plant).get("", {})
    # The sum and the partial quarters side by side (on InfluxDB each is a few requests in a
    # row: the week's energy page waited on them one after the other).
    with ThreadPoolExecutor(2) as pool:
        f_edges = [
            pool.submit(quarters_from_readings, store, a, b)
            for a, b in ((t0, qa), (qb, t1))
            if a < b
        ]
        out = store.energy_quarter_sums(qa, qb, machines)
        edges = [f.result() for f in f_edges]
    for part in edges:
        for q, kwh in sum_quarters(part, plant).get("", {}).items():
            out[q] = out.get(q, 0.0) + kwh
    return out


def machine_facts(
    info: MachineInfo,
    durations: dict[str, float],
    c0: dict[str, float] | None,
    c1: dict[str, float] | None,
    e0: float,
    e1: float,
    ideal_cycle_s: float,
) -> MachineFacts:
    base = c0 or {"total": 0, "good": 0, "scrap": 0}
    now = c1 or base
    total = int(now["total"] - base["total"])
    good = int(now["good"] - base["good"])
    scrap = int(now["scrap"] - base["scrap"])
    if "ideal_s" in now and total > 0:
        # Issue 12: parts of several products, each with its own ideal cycle: the mean over
        # the range's parts, so performance = sum(ideal x count) / run time.
        ideal_cycle_s = (now["ideal_s"] - base.get("ideal_s", 0.0)) / total
    extra: dict[str, Any] = {"kind": info.kind, "connectivity": info.connectivity}
    if info.connectivity == "legacy":
        # Its meter readings are the collector's integral of its power samples.
        extra["energy_estimated"] = True
    if info.connectivity == "legacy" and c1 is not None:
        # A stroke meter's cycles, counted from its power waveform by the collector
        # (collector/cycles.py, issue 12): a measured performance; the meter sees no scrap,
        # so quality is still assumed, and everything stays marked inferred.
        total = good = max(0, total)
        scrap = 0
        extra["inferred"] = True
        extra["cycles_counted"] = True
    elif info.connectivity == "legacy" and ideal_cycle_s > 0:
        # A power meter sees running time, not parts: assume it ran at its ideal cycle with
        # no scrap, so availability is measured and performance and quality are 100%; the
        # report marks all of it (shopfloor.report.INFERRED_FIELDS).
        total = good = int(durations["running"] // ideal_cycle_s)
        scrap = 0
        extra["inferred"] = True
    return MachineFacts(
        id=info.machine, line=info.line, area=info.area, durations_s=durations,
        total=total, good=good, scrap=scrap, ideal_cycle_s=ideal_cycle_s,
        energy_kwh=max(0.0, e1 - e0), extra=extra,
    )  # fmt: skip


def legacy_product_ideals(cfg: PlantConfig) -> dict[str, tuple[str, float, dict[str, float]]]:
    """Legacy first stations whose line's products set their own ideal cycle there: machine
    -> (line, its own ideal cycle, {product: ideal cycle}). A power meter sees no product;
    the first station's is that of the order it started last (its `order` events)."""
    out = {}
    for line in cfg.lines:
        first = line.stations[0]
        if first.connectivity != "legacy":
            continue
        per = {}
        for prod in cfg.products:
            if prod.line == line.id:
                own = prod.stations.get(first.id)
                per[prod.id] = (own.ideal_cycle_s if own else None) or first.ideal_cycle_s
        if any(v != first.ideal_cycle_s for v in per.values()):
            out[first.id] = (line.id, first.ideal_cycle_s, per)
    return out


def mixed_ideal_cycle(
    store: Store,
    machine: str,
    t0: int,
    t1: int,
    starts: list[tuple[int, str]],
    default_s: float,
    per_product: dict[str, float],
    counted: bool,
) -> float:
    """A legacy first station's ideal cycle over [t0, t1) on a line with products: the mean
    of each product's own, weighted by its parts, as the ground truth's. The range is cut at
    each order's start (`starts`: (start ms, product) in time order), the product of a piece
    being that of the order started last; its parts are its counted cycles, or with no
    stroke meter its running time over the product's ideal cycle (the ideal-cycle
    assumption, product by product)."""
    cuts = [t0, *(t for t, _ in starts if t0 < t < t1), t1]
    if counted:
        at = [store.counter_at("count", t - 1, machine).get(machine) for t in cuts]
        totals = [float(c[1]["total"]) if c else 0.0 for c in at]
    else:
        changes = store.states(t0, t1, machine).get(machine, [])
    weights: dict[float, float] = {}
    for i, (a, b) in enumerate(pairwise(cuts)):
        before = [p for t, p in starts if t <= a]
        ideal_s = per_product.get(before[-1], default_s) if before else default_s
        if counted:
            n = totals[i + 1] - totals[i]
        else:
            n = durations_from_changes(changes, a, b)["running"] / ideal_s
        weights[ideal_s] = weights.get(ideal_s, 0.0) + n
    parts = sum(weights.values())
    return sum(i * n for i, n in weights.items()) / parts if parts > 0 else default_s


def report_from_store(
    store: Store, t0: int, t1: int, cfg: PlantConfig | None = None
) -> dict[str, Any]:
    report = report_series(store, [t0, t1], cfg)[0]
    orders = orders_from_store(store, t0, t1, list(report["lines"]))
    if orders is not None:  # issue 12: only a store that holds work orders
        report["orders"] = orders
    return report


def orders_from_store(
    store: Store, t0: int, t1: int, line_order: list[str] | None = None
) -> dict[str, Any] | None:
    """The `orders` part of a report (shopfloor.orders.orders_report) from the `order`
    events before t1; None when the store holds none."""
    read = getattr(store, "order_events", None)
    events = read(t1) if read is not None else []
    if not events:
        return None
    return orders_report(fold_events(events), t0, t1, line_order or [])


def report_series(
    store: Store, bounds: list[int], cfg: PlantConfig | None = None, machine: str | None = None
) -> list[dict[str, Any]]:
    """One report per interval [bounds[i], bounds[i+1]) (hours, shifts)."""
    return report_windows(store, list(pairwise(bounds)), cfg, machine)


def report_windows(
    store: Store,
    windows: list[tuple[int, int]],
    cfg: PlantConfig | None = None,
    machine: str | None = None,
    lean: int | None = None,
) -> list[dict[str, Any]]:
    """One report per window [t0, t1), sharing the reads of the machine list, of the newest
    state changes and of the counters at each distinct window end; `machine`: that one only.
    `lean`: the windows from that index on get the plant and lines only, no machine entries
    (a page's trend over many shifts draws those; building 225 machine entries per shift was
    half of a week's energy page)."""
    ends_ms = sorted({t for w in windows for t in w})
    with ThreadPoolExecutor(4) as pool:  # independent reads: side by side on a networked store
        f_infos = pool.submit(store.machines)
        f_counts = {t: pool.submit(store.counter_at, "count", t - 1, machine) for t in ends_ms}
        f_meters = {t: pool.submit(store.counter_at, "energy", t - 1, machine) for t in ends_ms}
        f_newest = pool.submit(store.last_changes, END_OF_TIME_MS, machine)
        infos = [m for m in f_infos.result() if machine is None or m.machine == machine]
        counts = {t: f.result() for t, f in f_counts.items()}
        meters = {t: f.result() for t, f in f_meters.items()}
        newest = f_newest.result()
    ideal: dict[str, float] = {m.machine: m.ideal_cycle_s for m in infos}
    order: dict[str, int] = {m.machine: m.position for m in infos}
    if cfg is not None:
        for line, st in cfg.stations():
            ideal[st.id] = st.ideal_cycle_s
            order[st.id] = line.stations.index(st)
    infos = sorted(infos, key=lambda m: (m.area, m.line, order.get(m.machine, 0), m.machine))
    # Issue 12: a legacy first station making products of their own ideal cycle there.
    mixed = legacy_product_ideals(cfg) if cfg is not None and cfg.products else {}
    mixed = {m: v for m, v in mixed.items() if any(i.machine == m for i in infos)}
    starts: dict[str, list[tuple[int, str]]] = {}
    if mixed:
        folded = fold_events(getattr(store, "order_events", lambda t: [])(ends_ms[-1]))
        for m, (line_id, _, _) in mixed.items():
            starts[m] = sorted(
                (o.start_ms, o.product)
                for o in folded
                if o.line == line_id and o.start_ms is not None
            )

    def ends_at(t1: int) -> dict[str, int]:
        return {m.machine: min(t1, m.last_ts + 1) if m.last_ts else t1 for m in infos}

    with ThreadPoolExecutor(4) as pool:
        f_durations = [
            pool.submit(state_durations, store, t0, t1, ends_at(t1), newest, machine)
            for t0, t1 in windows
        ]
        all_durations = [f.result() for f in f_durations]
    out = []
    for i, ((t0, t1), durations) in enumerate(zip(windows, all_durations, strict=True)):
        c0, c1, e0, e1 = counts[t0], counts[t1], meters[t0], meters[t1]
        lines: dict[str, list[MachineFacts]] = defaultdict(list)
        for info in infos:
            if cfg is not None and info.machine not in ideal:
                continue
            ideal_s = ideal.get(info.machine, 0.0)
            if info.machine in mixed:
                _, own_s, per_product = mixed[info.machine]
                ideal_s = mixed_ideal_cycle(
                    store, info.machine, t0, min(t1, ends_at(t1)[info.machine]),
                    starts[info.machine], own_s, per_product, info.machine in c1,
                )  # fmt: skip
            facts = machine_facts(
                info,
                durations[info.machine],
                c0.get(info.machine, (0, None))[1],
                c1.get(info.machine, (0, None))[1],
                float(e0.get(info.machine, (0, {"energy_kwh": 0.0}))[1]["energy_kwh"]),
                float(e1.get(info.machine, (0, {"energy_kwh": 0.0}))[1]["energy_kwh"]),
                ideal_s,
            )
            lines[info.line].append(facts)
        meta: dict[str, Any] = {"from_ms": t0, "to_ms": t1, "store": store.url}
        if infos:
            meta.update(enterprise=infos[0].enterprise, site=infos[0].site)
        out.append(build_report(lines, meta, machines=lean is None or i < lean))
    return out
