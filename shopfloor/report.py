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


# What a power meter cannot see: a legacy machine's states are inferred from its power (and
# the shift calendar), its counts assume its ideal cycle and no scrap (store/report.py).
INFERRED_FIELDS = (
    "states", "availability", "performance", "quality", "oee",
    "total_count", "good_count", "scrap_count",
)  # fmt: skip
# A line's figures that take every station's counts: partly assumed when a station is legacy.
LINE_WIDE_FIELDS = ("scrap_all_stations", "yield")


def _estimated_kwh(m: MachineFacts) -> float:
    return m.energy_kwh if m.extra.get("energy_estimated") else 0.0


def _inferred(m: MachineFacts) -> bool:
    return bool(m.extra.get("inferred"))


def machine_entry(m: MachineFacts) -> dict[str, Any]:
    """Also says what is not measured: `inferred` (its OEE is) and `inferred_fields` (every
    key a page marks as inferred), `energy_estimated` and `energy_estimated_kwh` (a meter-less
    machine's kWh, integrated from its power samples). Line and plant entries say the same
    (`inferred`: their OEE is inferred, i.e. a line ends in a legacy machine)."""
    e = entry(m.durations_s, m.total, m.good, m.scrap, m.ideal_cycle_s, m.energy_kwh)
    e.update(
        line=m.line,
        area=m.area,
        inferred=False,
        inferred_fields=list(INFERRED_FIELDS) if _inferred(m) else [],
        energy_estimated=False,
        energy_estimated_kwh=_estimated_kwh(m),
    )
    e.update(m.extra)
    return e


def rolled_yield(stations: list[MachineFacts]) -> float:
    """The line's yield from first to last station: the product of each station's good/total
    (rolled throughput yield), so parts waiting in buffers do not count as losses; a station
    that finished nothing in the range counts as 1."""
    out = 1.0
    for st in stations:
        if st.total > 0:
            out *= st.good / st.total
    return out


def line_entry(stations: list[MachineFacts]) -> dict[str, Any]:
    """Time, counts and OEE of what leaves the line (its last station); energy of all of it;
    the scrap of every station (`station_scrap`, `scrap_all_stations`) and `yield`."""
    last = stations[-1]
    e = entry(
        last.durations_s,
        last.total,
        last.good,
        last.scrap,
        last.ideal_cycle_s,
        sum(st.energy_kwh for st in stations),
    )
    inferred_stations = [st.id for st in stations if _inferred(st)]
    fields = list(INFERRED_FIELDS) if _inferred(last) else []
    if inferred_stations:
        fields += LINE_WIDE_FIELDS
    e.update(
        area=last.area,
        stations=[st.id for st in stations],
        station_scrap={st.id: st.scrap for st in stations},
        scrap_all_stations=sum(st.scrap for st in stations),
        inferred="oee" in fields,
        inferred_fields=fields,
        inferred_stations=inferred_stations,
        energy_estimated_kwh=sum(_estimated_kwh(st) for st in stations),
    )
    e["yield"] = rolled_yield(stations)  # a keyword in Python, so not in update()
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


def plant_entry(line_entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The plant's figures from its lines' entries (what leaves each line, summed)."""
    items = list(line_entries)
    fields: list[str] = []
    for e in items:
        fields += [f for f in e["inferred_fields"] if f not in fields]
    return {
        **sum_entries(items),
        "scrap_all_stations": sum(e["scrap_all_stations"] for e in items),
        "inferred": "oee" in fields,
        "inferred_fields": fields,
        "energy_estimated_kwh": sum(e["energy_estimated_kwh"] for e in items),
    }


def merge_reports(
    parts: list[dict[str, Any]], line_order: list[str] | None = None
) -> dict[str, Any]:
    """One report from reports of disjoint sets of lines over the same range (a large plant's
    truth asked a few lines at a time): lines and machines side by side, the plant entry
    recomputed from the lines by plant_entry, the metadata (range, seed...) of the first part.
    `line_order`: the lines' order in the result (the config's); the parts' order otherwise.
    Raises ValueError when the parts cover different ranges."""
    if not parts:
        raise ValueError("no report to merge")
    spans = {(p["plant"].get("from_ms"), p["plant"].get("to_ms")) for p in parts}
    if len(spans) > 1:
        raise ValueError(f"the reports cover different ranges: {sorted(spans)}")
    lines = {lid: e for p in parts for lid, e in p["lines"].items()}
    machines = {mid: e for p in parts for mid, e in p["machines"].items()}
    if line_order is not None:
        lines = {lid: lines[lid] for lid in line_order if lid in lines}
        machines = {m: machines[m] for e in lines.values() for m in e["stations"] if m in machines}
    figures = plant_entry(lines.values())
    meta = {k: v for k, v in parts[0]["plant"].items() if k not in figures}
    return {"plant": {**figures, **meta}, "lines": lines, "machines": machines}


def build_report(
    lines: Mapping[str, list[MachineFacts]], plant_meta: Mapping[str, Any], machines: bool = True
) -> dict[str, Any]:
    """`lines` maps each line id to its machines in flow order. machines=False leaves the
    machines' entries out (empty): a trend of many windows that draws the plant and lines."""
    line_entries = {lid: line_entry(ms) for lid, ms in lines.items() if ms}
    return {
        "plant": {**plant_entry(line_entries.values()), **plant_meta},
        "lines": line_entries,
        "machines": {m.id: machine_entry(m) for ms in lines.values() for m in ms}
        if machines
        else {},
    }
