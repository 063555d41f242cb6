"""Metered kWh per machine and quarter hour, kept up to date as meter readings are written.

A week of a 225-station plant holds 2.3 million cumulative meter readings; the energy page's
15-minute demand, tariff periods and per-station cost need kWh per quarter hour. Each reading
adds its increase over the machine's previous reading (a meter that steps back, a reset,
adds nothing) to the quarter it falls in; a store keeps those sums beside the readings.

As in shopfloor.store.rollup: the writer keeps each machine's newest reading and its quarter's
sum in memory; a reading older than the newest one (a gap filled late) or a cold cache
rebuilds the quarters from that one on, from the stored readings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

QUARTER_MS = 900_000

Reading = tuple[int, int, float]  # (ts ms, seq, cumulative kWh)
QuarterRow = tuple[str, int, float]  # (machine, quarter start ms, kWh metered in it)


def floor_quarter(ts: int) -> int:
    return ts - ts % QUARTER_MS


def quarter_sums(readings: list[Reading], baseline: float) -> dict[int, float]:
    """kWh per quarter: each reading's increase over the one before it (the first one's over
    `baseline`: the reading before them all, or 0 for a machine's first reading, as the
    report's energy counts from 0)."""
    out: dict[int, float] = {}
    prev = baseline
    for ts, _, kwh in readings:
        q = floor_quarter(ts)
        out[q] = out.get(q, 0.0) + max(0.0, kwh - prev)
        prev = kwh
    return out


@dataclass
class _Tail:
    last: Reading
    quarter_kwh: float


class MeterRollup:
    """The writer's side. `load(machine, t)` returns that machine's stored readings with
    ts >= t, preceded by the newest one before t, in time order (new ones included)."""

    def __init__(self, load: Callable[[str, int], list[Reading]]):
        self.load = load
        self.tails: dict[str, _Tail] = {}

    def forget(self) -> None:
        self.tails.clear()

    def apply(self, new: dict[str, list[Reading]]) -> list[QuarterRow]:
        rows: list[QuarterRow] = []
        for machine, readings in new.items():
            readings.sort()
            tail = self.tails.get(machine)
            if tail is not None:
                readings = [r for r in readings if r[:2] != tail.last[:2]]  # re-sent
                if not readings:
                    continue
            if tail is None or readings[0][:2] < tail.last[:2]:
                rows += self.rebuild(machine, readings[0][0])
            else:
                q0 = floor_quarter(tail.last[0])
                sums = quarter_sums(readings, tail.last[2])
                sums[q0] = sums.get(q0, 0.0) + tail.quarter_kwh
                rows += self._remember(machine, readings[-1], sums)
        return rows

    def rebuild(self, machine: str, since: int) -> list[QuarterRow]:
        start = floor_quarter(since)
        loaded = self.load(machine, start)
        older = loaded[0][0] < start
        baseline = loaded[0][2] if older else 0.0
        readings = loaded[1:] if older else loaded
        return self._remember(machine, loaded[-1], quarter_sums(readings, baseline))

    def _remember(self, machine: str, last: Reading, sums: dict[int, float]) -> list[QuarterRow]:
        q = floor_quarter(last[0])
        for quarter in range(min(sums, default=q), q + 1, QUARTER_MS):
            sums.setdefault(quarter, 0.0)
        self.tails[machine] = _Tail(last, sums[q])
        return [(machine, quarter, kwh) for quarter, kwh in sorted(sums.items())]
