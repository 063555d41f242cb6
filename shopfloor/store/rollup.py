"""Seconds per state per machine and hour, kept up to date as state changes are written.

A week of a 225-station plant holds about two million state changes (starved and blocked come
and go with every part), too many to replay for each dashboard refresh. So each store keeps,
next to the raw changes, one row per machine and hour with the seconds spent in each state
by *closed* intervals (a change and the next one). A range's durations are then: the hour
rows inside it, the raw changes of the partial hours at its two ends, and the open interval
after each machine's newest change (see `durations`).

The writer keeps each machine's newest change and its hour's sums in memory, so appending is
cheap. A change older than the newest one (a gap filled late) or a cold cache rebuilds the
affected hours from the raw changes. One writer per machine is assumed (the collector).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from shopfloor import kpi

HOUR_MS = 3_600_000
END_OF_TIME_MS = 9_000_000_000_000  # 2255: later than any data, within InfluxDB's time range

Change = tuple[int, int, str]  # (ts ms, seq, state)
HourRow = tuple[str, int, dict[str, float]]  # (machine, hour start ms, seconds per state)


def floor_hour(ts: int) -> int:
    return ts - ts % HOUR_MS


def spread(out: dict[int, dict[str, float]], state: str, start: int, end: int) -> None:
    """Add the interval [start, end) to the hour buckets it crosses."""
    while start < end:
        h = floor_hour(start)
        stop = min(end, h + HOUR_MS)
        bucket = out.setdefault(h, dict.fromkeys(kpi.STATES, 0.0))
        bucket[state] += (stop - start) / 1000.0
        start = stop


def closed_hours(changes: list[Change], from_hour: int) -> dict[int, dict[str, float]]:
    """Hour buckets >= from_hour filled by the closed intervals of `changes` (time order)."""
    out: dict[int, dict[str, float]] = {}
    for (ts, _, state), (nxt, _, _) in pairwise(changes):
        spread(out, state, max(ts, from_hour), nxt)
    return out


@dataclass
class _Tail:
    last: Change
    hour: dict[str, float] = field(default_factory=lambda: dict.fromkeys(kpi.STATES, 0.0))


class HourRollup:
    """The writer's side. `load(machine, t)` returns that machine's stored changes with
    ts >= t, preceded by the newest one before t, in time order (new ones included)."""

    def __init__(self, load: Callable[[str, int], list[Change]]):
        self.load = load
        self.tails: dict[str, _Tail] = {}

    def forget(self) -> None:
        self.tails.clear()

    def apply(self, new: dict[str, list[Change]]) -> list[HourRow]:
        rows: list[HourRow] = []
        for machine, changes in new.items():
            changes.sort()
            tail = self.tails.get(machine)
            if tail is not None and changes[0][:2] == tail.last[:2]:
                changes = [c for c in changes if c[:2] > tail.last[:2]]  # a re-sent change
                if not changes:
                    continue
            if tail is None or changes[0][:2] < tail.last[:2]:
                rows += self._rebuild(machine, changes[0][0])
            else:
                rows += self._append(machine, tail, changes)
        return rows

    def _append(self, machine: str, tail: _Tail, changes: list[Change]) -> list[HourRow]:
        h0 = floor_hour(tail.last[0])
        hours = closed_hours([tail.last, *changes], h0)
        if h0 in hours:
            for s, v in tail.hour.items():
                hours[h0][s] += v
        else:
            hours[h0] = dict(tail.hour)
        return self._remember(machine, changes[-1], hours)

    def _rebuild(self, machine: str, since: int) -> list[HourRow]:
        before = self.load(machine, since)
        start = floor_hour(before[0][0])
        changes = self.load(machine, start)
        hours = closed_hours(changes, start)
        return self._remember(machine, changes[-1], hours)

    def _remember(
        self, machine: str, last: Change, hours: dict[int, dict[str, float]]
    ) -> list[HourRow]:
        h = floor_hour(last[0])
        for hour in range(min(hours, default=h), h + 1, HOUR_MS):
            hours.setdefault(hour, dict.fromkeys(kpi.STATES, 0.0))  # an hour rebuilt to zero
        self.tails[machine] = _Tail(last, dict(hours[h]))
        return [(machine, hour, secs) for hour, secs in sorted(hours.items())]


def ceil_hour(ts: int) -> int:
    return -(-ts // HOUR_MS) * HOUR_MS
