"""OEE and time-category math shared by the simulator's ground truth and the dashboard.

Definitions follow ISO 22400-2 and the OEE literature (docs/architecture.md, States and KPIs):
planned production time = scheduled time - planned stops,
A = run / planned, P = ideal cycle x total / run, Q = good / total, OEE = A x P x Q.
Zero denominators give 0.0 (nothing planned, nothing run or nothing made means no
effectiveness can be claimed), so every ratio is always a finite number in reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Every state maps to exactly one time category; the report and the stores use these names.
STATES: tuple[str, ...] = (
    "running",
    "idle",
    "starved",
    "blocked",
    "down",
    "setup",
    "planned_stop",
    "off",
)
AVAILABILITY_LOSS_STATES: tuple[str, ...] = ("idle", "starved", "blocked", "down", "setup")
NOT_PLANNED_STATES: tuple[str, ...] = ("planned_stop", "off")


@dataclass(frozen=True, slots=True)
class Oee:
    availability: float
    performance: float
    quality: float
    oee: float

    def as_dict(self) -> dict[str, float]:
        return {
            "availability": self.availability,
            "performance": self.performance,
            "quality": self.quality,
            "oee": self.oee,
        }


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def oee(
    planned_s: float,
    run_s: float,
    ideal_cycle_s: float,
    total_count: float,
    good_count: float,
) -> Oee:
    """Availability, performance, quality and OEE of one machine, line or aggregate.

    Performance is not clipped at 1: a value above 1 means the ideal cycle time in the
    config is slower than the machine really runs, which a user must see, not have hidden.
    """
    availability = _ratio(run_s, planned_s)
    performance = _ratio(ideal_cycle_s * total_count, run_s)
    quality = _ratio(good_count, total_count)
    return Oee(availability, performance, quality, availability * performance * quality)


def planned_s(durations_s: Mapping[str, float]) -> float:
    """Planned production time: everything except off-shift and planned stops."""
    return sum(v for k, v in durations_s.items() if k not in NOT_PLANNED_STATES)


def weighted_ideal_cycle_s(parts: Iterable[tuple[float, float]]) -> float:
    """Count-weighted ideal cycle time of several machines: sum(ict x total) / sum(total).

    With it, the aggregate performance equals sum(ict_i x total_i) / sum(run_i), the
    standard way to roll performance up across machines with different rated speeds.
    """
    num = 0.0
    den = 0.0
    for ideal_cycle_s, total in parts:
        num += ideal_cycle_s * total
        den += total
    return num / den if den > 0 else 0.0


def energy_kwh(durations_s: Mapping[str, float], power_kw: Mapping[str, float]) -> float:
    """Energy of per-state constant power integrated over the state durations."""
    return sum(power_kw.get(state, 0.0) * sec for state, sec in durations_s.items()) / 3600.0


def target_count(planned_s: float, ideal_cycle_s: float) -> int:
    """Output target: what the planned production time yields at the ideal cycle. Good parts
    against it is the OEE (ISO 22400: OEE = good x ideal cycle / planned time)."""
    return int(planned_s // ideal_cycle_s) if ideal_cycle_s > 0 else 0


def kwh_per_good(energy_kwh: float, good_count: float) -> float:
    """Energy per good part: the energy spent on scrap counts against the good ones."""
    return energy_kwh / good_count if good_count > 0 else 0.0


def peak_demand_kw(demand: list[tuple[int, float]]) -> float:
    """The highest 15-minute mean demand (what a utility bills as peak demand)."""
    return max((kw for _, kw in demand), default=0.0)
