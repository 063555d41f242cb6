"""The ground truth of a run, in the report shape the dashboard's KPIs are checked against."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shopfloor import kpi

if TYPE_CHECKING:
    from simulator.plant import Plant
    from simulator.station import Station

DURATION_KEYS = tuple(f"{s}_s" for s in kpi.STATES)


def _entry(
    durations_s: dict[str, float],
    total: int,
    good: int,
    scrap: int,
    ideal_cycle_s: float,
    energy_kwh: float,
) -> dict[str, Any]:
    planned = kpi.planned_s(durations_s)
    run = durations_s["running"]
    out: dict[str, Any] = {"planned_s": planned}
    for state in kpi.STATES:
        out[f"{state}_s"] = durations_s[state]
    out.update(
        total_count=total,
        good_count=good,
        scrap_count=scrap,
        ideal_cycle_s=ideal_cycle_s,
        energy_kwh=energy_kwh,
    )
    out.update(kpi.oee(planned, run, ideal_cycle_s, total, good).as_dict())
    return out


def machine_entry(st: Station) -> dict[str, Any]:
    e = _entry(
        dict(st.durations_s), st.total, st.good, st.scrap, st.spec.ideal_cycle_s, st.energy_kwh
    )
    e.update(
        line=st.line_id,
        area=st.area,
        kind=st.spec.kind,
        received_count=st.received,
        failures=len(st.failures),
    )
    return e


def line_entry(stations: list[Station]) -> dict[str, Any]:
    """Time, counts and OEE of what leaves the line (its last station); energy of all of it."""
    last = stations[-1]
    e = _entry(
        dict(last.durations_s),
        last.total,
        last.good,
        last.scrap,
        last.spec.ideal_cycle_s,
        sum(st.energy_kwh for st in stations),
    )
    e.update(area=last.area, stations=[st.id for st in stations])
    return e


def sum_entries(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The plant: sums of lines, with a count-weighted ideal cycle (see kpi.weighted_ideal_cycle_s)."""
    items = list(entries)
    durations = {s: sum(e[f"{s}_s"] for e in items) for s in kpi.STATES}
    ict = kpi.weighted_ideal_cycle_s((e["ideal_cycle_s"], e["total_count"]) for e in items)
    return _entry(
        durations,
        sum(e["total_count"] for e in items),
        sum(e["good_count"] for e in items),
        sum(e["scrap_count"] for e in items),
        ict,
        sum(e["energy_kwh"] for e in items),
    )


def build_report(plant: Plant) -> dict[str, Any]:
    lines = {lid: line_entry(sts) for lid, sts in plant.lines.items()}
    return {
        "plant": {
            **sum_entries(lines.values()),
            "enterprise": plant.cfg.plant.enterprise,
            "site": plant.cfg.plant.site,
            "timezone": plant.cfg.plant.timezone,
            "start_ms": plant.start_ms,
            "end_ms": plant.start_ms + round(plant.env.now * 1000),
            "seed": plant.seed,
        },
        "lines": lines,
        "machines": {st.id: machine_entry(st) for st in plant.stations},
    }
