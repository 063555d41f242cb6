"""Metered kWh per machine and quarter hour, kept up to date as meter readings are written.

A week of a 225-station plant holds 2.3 million cumulative meter readings; the energy page's
15-minute demand, tariff periods and per-station cost need kWh per quarter hour: a quarter's
newest reading minus the newest one before it, never negative (a reset). That is the stores'
`energy_buckets` definition too (the newest reading per bucket), so both ways agree; a store
keeps these values beside the readings.

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


def quarter_values(readings: list[Reading], baseline: float) -> tuple[dict[int, float], float]:
    """kWh per quarter: the quarter's newest reading minus the newest one before it (the
    first quarter's over `baseline`: the reading before them all, or 0 for a machine's first
    reading, as the report's energy counts from 0); never negative (a meter reset). Also
    returns the newest reading before the last quarter (the next append's baseline)."""
    lasts: dict[int, float] = {}
    for ts, _, kwh in readings:  # in time order: the newest of each quarter stays
        lasts[floor_quarter(ts)] = kwh
    out: dict[int, float] = {}
    prev = before_last = baseline
    for q in sorted(lasts):
        out[q] = max(0.0, lasts[q] - prev)
        before_last, prev = prev, lasts[q]
    return out, before_last


@dataclass
class _Tail:
    last: Reading
    before: float  # the newest reading before the last reading's quarter (or 0)


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
                # The tail's quarter is recomputed whole: its newest reading may be new.
                values, before = quarter_values([tail.last, *readings], tail.before)
                rows += self._remember(machine, readings[-1], values, before)
        return rows

    def rebuild(self, machine: str, since: int) -> list[QuarterRow]:
        start = floor_quarter(since)
        loaded = self.load(machine, start)
        if not loaded:
            # Nothing stored (a machine metered nowhere, a store emptied under the writer):
            # no quarters, and the next reading rebuilds from the store again.
            self.tails.pop(machine, None)
            return []
        older = loaded[0][0] < start
        values, before = quarter_values(
            loaded[1:] if older else loaded, loaded[0][2] if older else 0.0
        )
        return self._remember(machine, loaded[-1], values, before)

    def _remember(
        self, machine: str, last: Reading, values: dict[int, float], before: float
    ) -> list[QuarterRow]:
        q = floor_quarter(last[0])
        for quarter in range(min(values, default=q), q + 1, QUARTER_MS):
            values.setdefault(quarter, 0.0)
        self.tails[machine] = _Tail(last, before)
        return [(machine, quarter, kwh) for quarter, kwh in sorted(values.items())]
