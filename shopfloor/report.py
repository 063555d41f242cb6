"""The report shape shared by the simulator's ground truth, `shopfloor kpi` and the dashboard:
{"plant": {...}, "lines": {id: {...}}, "machines": {id: {...}}}. Every ratio in it comes from
kpi.oee, so the ground truth and what the store shows can never define OEE differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shopfloor import kpi


@dataclass
class MachineFacts:
    """What is known of one machine over a time range."""

    id: str
    line: str
    area: str
    durations_s: dict[str, float]
    total: int
    good: int
    scrap: int
    ideal_cycle_s: float
    energy_kwh: float
    extra: dict[str, Any] = field(default_factory=dict)


def entry(
    durations_s: Mapping[str, float],
    total: int,
    good: int,
    scrap: int,
    ideal_cycle_s: float,
    energy_kwh: float,
) -> dict[str, Any]:
    full = {s: float(durations_s.get(s, 0.0)) for s in kpi.STATES}
    planned = kpi.planned_s(full)
    out: dict[str, Any] = {"planned_s": planned}
    for state in kpi.STATES:
        out[f"{state}_s"] = full[state]
    out.update(
        total_count=total,
        good_count=good,
        scrap_count=scrap,
        ideal_cycle_s=ideal_cycle_s,
        energy_kwh=energy_kwh,
    )
    out.update(kpi.oee(planned, full["running"], ideal_cycle_s, total, good).as_dict())
    return out


def machine_entry(m: MachineFacts) -> dict[str, Any]:
    e = entry(m.durations_s, m.total, m.good, m.scrap, m.ideal_cycle_s, m.energy_kwh)
    e.update(line=m.line, area=m.area, **m.extra)
    return e


def line_entry(stations: list[MachineFacts]) -> dict[str, Any]:
    """Time, counts and OEE of what leaves the line (its last station); energy of all of it."""
    last = stations[-1]
    e = entry(
        last.durations_s,
        last.total,
        last.good,
        last.scrap,
        last.ideal_cycle_s,
        sum(st.energy_kwh for st in stations),
    )
    e.update(area=last.area, stations=[st.id for st in stations])
    return e


def sum_entries(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sums, with a count-weighted ideal cycle (see kpi.weighted_ideal_cycle_s)."""
    items = list(entries)
    durations = {s: sum(e[f"{s}_s"] for e in items) for s in kpi.STATES}
    ict = kpi.weighted_ideal_cycle_s((e["ideal_cycle_s"], e["total_count"]) for e in items)
    return entry(
        durations,
        sum(e["total_count"] for e in items),
        sum(e["good_count"] for e in items),
        sum(e["scrap_count"] for e in items),
        ict,
        sum(e["energy_kwh"] for e in items),
    )


def build_report(
    lines: Mapping[str, list[MachineFacts]], plant_meta: Mapping[str, Any]
) -> dict[str, Any]:
    """`lines` maps each line id to its machines in flow order."""
    line_entries = {lid: line_entry(ms) for lid, ms in lines.items() if ms}
    return {
        "plant": {**sum_entries(line_entries.values()), **plant_meta},
        "lines": line_entries,
        "machines": {m.id: machine_entry(m) for ms in lines.values() for m in ms},
    }
