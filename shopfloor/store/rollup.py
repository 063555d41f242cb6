"""Seconds per state per machine and hour, kept up to date as state changes are written.

A week of a 225-station plant holds about two million state changes (starved and blocked come
and go with every part), too many to replay for each dashboard refresh. So each store keeps,
next to the raw changes, one row per machine and hour with the seconds spent in each state
by *closed* intervals (a change and the next one), and the loss states' seconds per reason
(the downtime Pareto). A range's durations are then: the hour
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

Change = tuple[int, int, str, str]  # (ts ms, seq, state, reason)


@dataclass
class Hour:
    """One machine's closed-interval seconds in one hour: per state, and per (loss state,
    reason)."""

    states: dict[str, float] = field(default_factory=lambda: dict.fromkeys(kpi.STATES, 0.0))
    losses: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, state: str, reason: str, seconds: float) -> None:
        self.states[state] += seconds
        if state in kpi.AVAILABILITY_LOSS_STATES:
            key = (state, reason or state)
            self.losses[key] = self.losses.get(key, 0.0) + seconds

    def merge(self, other: Hour) -> None:
        for s, v in other.states.items():
            self.states[s] += v
        for k, v in other.losses.items():
            self.losses[k] = self.losses.get(k, 0.0) + v

    def copy(self) -> Hour:
        return Hour(dict(self.states), dict(self.losses))


HourRow = tuple[str, int, Hour]  # (machine, hour start ms, its seconds)


def floor_hour(ts: int) -> int:
    return ts - ts % HOUR_MS


def ceil_hour(ts: int) -> int:
    return -(-ts // HOUR_MS) * HOUR_MS


def spread(out: dict[int, Hour], state: str, reason: str, start: int, end: int) -> None:
    """Add the interval [start, end) to the hour buckets it crosses."""
    while start < end:
        h = floor_hour(start)
        stop = min(end, h + HOUR_MS)
        out.setdefault(h, Hour()).add(state, reason, (stop - start) / 1000.0)
        start = stop


def closed_hours(changes: list[Change], from_hour: int) -> dict[int, Hour]:
    """Hour buckets >= from_hour filled by the closed intervals of `changes` (time order)."""
    out: dict[int, Hour] = {}
    for (ts, _, state, reason), nxt in pairwise(changes):
        spread(out, state, reason, max(ts, from_hour), nxt[0])
    return out


@dataclass
class _Tail:
    last: Change
    hour: Hour = field(default_factory=Hour)


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
        hours.setdefault(h0, Hour()).merge(tail.hour)
        return self._remember(machine, changes[-1], hours)

    def _rebuild(self, machine: str, since: int) -> list[HourRow]:
        before = self.load(machine, since)
        if not before:
            self.tails.pop(machine, None)  # nothing stored: no hours (as MeterRollup.rebuild)
            return []
        start = floor_hour(before[0][0])
        changes = self.load(machine, start)
        hours = closed_hours(changes, start)
        return self._remember(machine, changes[-1], hours)

    def _remember(self, machine: str, last: Change, hours: dict[int, Hour]) -> list[HourRow]:
        h = floor_hour(last[0])
        for hour in range(min(hours, default=h), h + 1, HOUR_MS):
            hours.setdefault(hour, Hour())  # an hour rebuilt to zero
        self.tails[machine] = _Tail(last, hours[h].copy())
        return [(machine, hour, secs) for hour, secs in sorted(hours.items())]
