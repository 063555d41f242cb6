"""Score a predictive-maintenance or anomaly-detection model against the simulator's ground
truth (issue 12, failure precursors).

The truth is the `maintenance.failures` list of a machine in `shopfloor sim --report`: each
failure's `start_ms` and, for a failure mode with a precursor, `precursor_start_ms`. A model
raises alarms (epoch ms) from the stream; an alarm in [precursor start, failure start) warns
of that failure.

Preventive maintenance can renew a machine while a precursor already drifts: the drift is in
the stream but no failure follows. Such drifts are in `maintenance.precursor_drifts` (their
`ended` is not "failure"); given to `score` as `drifts`, an alarm in [start, end] of one is a
true alarm (the model saw a real anomaly, the maintenance just came first), counted in
`true_alarms` and `cut_warned`, but not in recall, which stays the share of failures warned
of. Without `drifts`, such alarms count as false, as any alarm outside a failure's window.
Pure functions, no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Score:
    failures: int  # failures with a precursor (the ones a model can see coming)
    warned: int  # of them, those with an alarm inside their precursor window
    alarms: int
    true_alarms: int  # alarms inside some precursor window
    mean_lead_s: float | None  # failure start minus the first alarm in its window
    cut_drifts: int = 0  # drifts ended without their failure (by maintenance), if given
    cut_warned: int = 0  # of them, those with an alarm inside

    @property
    def recall(self) -> float:
        return self.warned / self.failures if self.failures else 0.0

    @property
    def precision(self) -> float:
        return self.true_alarms / self.alarms if self.alarms else 0.0


def windows(failures: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(precursor start, failure start) of each failure that has a precursor, in time order."""
    return sorted(
        (int(f["precursor_start_ms"]), int(f["start_ms"]))
        for f in failures
        if f.get("precursor_start_ms") is not None
    )


def score(
    alarms_ms: Sequence[int],
    failures: Iterable[Mapping[str, Any]],
    drifts: Iterable[Mapping[str, Any]] = (),
) -> Score:
    """`failures` and `drifts` as `maintenance.failures` and `.precursor_drifts` of a machine
    in the report (drifts that ended in a failure are its windows already: skipped)."""
    wins = windows(failures)
    cut = sorted((int(d["start_ms"]), int(d["end_ms"])) for d in drifts if d["ended"] != "failure")
    alarms = sorted(alarms_ms)
    warned = 0
    leads: list[float] = []
    inside: set[int] = set()
    for a, b in wins:
        i = bisect.bisect_left(alarms, a)
        j = bisect.bisect_left(alarms, b)
        if j > i:
            warned += 1
            leads.append((b - alarms[i]) / 1000.0)
            inside.update(range(i, j))
    cut_warned = 0
    for a, b in cut:
        i = bisect.bisect_left(alarms, a)
        j = bisect.bisect_right(alarms, b)  # a sample at the cut itself still saw the drift
        if j > i:
            cut_warned += 1
            inside.update(range(i, j))
    return Score(
        failures=len(wins),
        warned=warned,
        alarms=len(alarms),
        true_alarms=len(inside),
        mean_lead_s=sum(leads) / len(leads) if leads else None,
        cut_drifts=len(cut),
        cut_warned=cut_warned,
    )
