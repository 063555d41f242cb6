"""KPIs of a time range from stored data, in the report shape of the simulator's ground truth.

State durations replay the stored state changes, clipped to the range and to the last moment
each machine was heard from; counts and energy are differences of the cumulative readings at
the range's two ends; every ratio comes from kpi.oee through shopfloor.report.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shopfloor import kpi
from shopfloor.config.schema import PlantConfig
from shopfloor.report import MachineFacts, build_report
from shopfloor.store.base import MachineInfo, Store


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


def machine_facts(
    info: MachineInfo,
    changes: list[tuple[int, str, str]],
    c0: dict[str, float] | None,
    c1: dict[str, float] | None,
    e0: float,
    e1: float,
    t0: int,
    t1: int,
    ideal_cycle_s: float,
) -> MachineFacts:
    end = min(t1, info.last_ts + 1) if info.last_ts else t1
    durations = durations_from_changes(changes, t0, end)
    base = c0 or {"total": 0, "good": 0, "scrap": 0}
    now = c1 or base
    total = int(now["total"] - base["total"])
    good = int(now["good"] - base["good"])
    scrap = int(now["scrap"] - base["scrap"])
    extra: dict[str, Any] = {"kind": info.kind, "connectivity": info.connectivity}
    if info.connectivity == "legacy" and ideal_cycle_s > 0:
        # A power meter sees running time, not parts: assume it ran at its ideal cycle with
        # no scrap, so availability is measured and performance and quality are 100%.
        total = good = int(durations["running"] // ideal_cycle_s)
        scrap = 0
        extra["inferred"] = True
    return MachineFacts(
        id=info.machine, line=info.line, area=info.area, durations_s=durations,
        total=total, good=good, scrap=scrap, ideal_cycle_s=ideal_cycle_s,
        energy_kwh=max(0.0, e1 - e0), extra=extra,
    )  # fmt: skip


def report_from_store(
    store: Store, t0: int, t1: int, cfg: PlantConfig | None = None
) -> dict[str, Any]:
    infos = store.machines()
    ideal: dict[str, float] = {m.machine: m.ideal_cycle_s for m in infos}
    order: dict[str, int] = {m.machine: m.position for m in infos}
    if cfg is not None:
        for line, st in cfg.stations():
            ideal[st.id] = st.ideal_cycle_s
            order[st.id] = line.stations.index(st)
    states = store.states(t0, t1)
    c0 = store.counter_at("count", t0 - 1)
    c1 = store.counter_at("count", t1 - 1)
    e0 = store.counter_at("energy", t0 - 1)
    e1 = store.counter_at("energy", t1 - 1)
    lines: dict[str, list[MachineFacts]] = defaultdict(list)
    for info in sorted(infos, key=lambda m: (m.area, m.line, order.get(m.machine, 0), m.machine)):
        if cfg is not None and info.machine not in ideal:
            continue
        facts = machine_facts(
            info,
            states.get(info.machine, []),
            c0.get(info.machine, (0, None))[1],
            c1.get(info.machine, (0, None))[1],
            float(e0.get(info.machine, (0, {"energy_kwh": 0.0}))[1]["energy_kwh"]),
            float(e1.get(info.machine, (0, {"energy_kwh": 0.0}))[1]["energy_kwh"]),
            t0,
            t1,
            ideal.get(info.machine, 0.0),
        )
        lines[info.line].append(facts)
    meta: dict[str, Any] = {"from_ms": t0, "to_ms": t1, "store": store.url}
    if infos:
        meta.update(enterprise=infos[0].enterprise, site=infos[0].site)
    return build_report(lines, meta)
