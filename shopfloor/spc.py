"""Statistical process control: the individuals and moving range (I-MR) chart and the Western
Electric rules (issue 12, tool wear). Pure functions; the Machine page draws them
(dashboard/spc_figures.py).

Limits come from a baseline, the first points of the series (phase I): sigma is estimated
from the mean moving range, MR-bar / d2 with d2 = 1.128 for ranges of two, so a slow drift
inflates neither the centre nor sigma the way the overall standard deviation would. The
moving range chart's upper limit is D4 * MR-bar, D4 = 3.267 (its lower limit is 0).

The Western Electric rules (Western Electric, Statistical Quality Control Handbook, 1956),
each judged at the point that completes its pattern, on one side of the centre line:

1. one point beyond 3 sigma;
2. two of three consecutive points beyond 2 sigma (the last one among them);
3. four of five consecutive points beyond 1 sigma (the last one among them);
4. eight consecutive points on the same side of the centre line.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

D2 = 1.128
D4 = 3.267
RULES = (1, 2, 3, 4)
MIN_BASELINE = 2  # a moving range needs two points


@dataclass(frozen=True)
class Limits:
    center: float
    sigma: float
    mr_bar: float

    @property
    def ucl(self) -> float:
        return self.center + 3.0 * self.sigma

    @property
    def lcl(self) -> float:
        return self.center - 3.0 * self.sigma

    @property
    def mr_ucl(self) -> float:
        return D4 * self.mr_bar


@dataclass(frozen=True)
class Chart:
    values: list[float]
    moving_ranges: list[float | None]  # the first point has none
    limits: Limits
    baseline: int  # how many leading points the limits come from
    flags: list[tuple[int, ...]] = field(default_factory=list)  # rules broken at each point
    mr_flags: list[bool] = field(default_factory=list)  # moving range above its limit

    def first_flag(self, start: int = 0) -> int | None:
        """The index of the first point from `start` on that breaks any rule, or None."""
        return next((i for i in range(start, len(self.flags)) if self.flags[i]), None)


def moving_ranges(values: Sequence[float]) -> list[float | None]:
    return [None, *(abs(b - a) for a, b in itertools.pairwise(values))]


def limits(values: Sequence[float]) -> Limits:
    """Centre and sigma of a baseline (at least two points)."""
    if len(values) < MIN_BASELINE:
        raise ValueError(f"a baseline needs at least {MIN_BASELINE} points, got {len(values)}")
    center = sum(values) / len(values)
    mrs = [abs(b - a) for a, b in itertools.pairwise(values)]
    mr_bar = sum(mrs) / len(mrs)
    return Limits(center, mr_bar / D2, mr_bar)


def western_electric(values: Sequence[float], center: float, sigma: float) -> list[tuple[int, ...]]:
    """For each point, the rules (1-4) the pattern ending at it breaks. With sigma 0 (a flat
    baseline) any point off the centre breaks rule 1."""
    out: list[tuple[int, ...]] = []
    # Signed distance in sigmas; a zero sigma makes every departure infinite.
    z = [
        (v - center) / sigma if sigma > 0 else (0.0 if v == center else (v - center) * float("inf"))
        for v in values
    ]
    for i, zi in enumerate(z):
        broken: list[int] = []
        if abs(zi) > 3.0:
            broken.append(1)
        for rule, n, k, beyond in ((2, 3, 2, 2.0), (3, 5, 4, 1.0)):
            window = z[max(0, i + 1 - n) : i + 1]  # fewer at the start: k of what there is
            for side in (1.0, -1.0):
                if side * zi > beyond and sum(1 for w in window if side * w > beyond) >= k:
                    broken.append(rule)
                    break
        if i + 1 >= 8:
            window = z[i - 7 : i + 1]
            if all(w > 0 for w in window) or all(w < 0 for w in window):
                broken.append(4)
        out.append(tuple(broken))
    return out


def imr(values: Sequence[float], baseline: int | None = None) -> Chart:
    """The I-MR chart of `values`, its limits from the first `baseline` points (all if None)."""
    vals = [float(v) for v in values]
    b = len(vals) if baseline is None else max(MIN_BASELINE, min(baseline, len(vals)))
    lim = limits(vals[:b])
    mrs = moving_ranges(vals)
    return Chart(
        values=vals,
        moving_ranges=mrs,
        limits=lim,
        baseline=b,
        flags=western_electric(vals, lim.center, lim.sigma),
        mr_flags=[m is not None and m > lim.mr_ucl for m in mrs],
    )


def running_only(
    samples: Sequence[tuple[int, float]], changes: Sequence[tuple[int, str]]
) -> list[tuple[int, float]]:
    """The samples taken while the machine ran: a process value means something for quality
    only then (a spindle idling or cooling on a break is another process). `changes` are
    (ts, state) in time order; a sample takes the state of the newest change at or before it."""
    out: list[tuple[int, float]] = []
    i, state = 0, ""
    for ts, v in samples:
        while i < len(changes) and changes[i][0] <= ts:
            state = changes[i][1]
            i += 1
        if state == "running":
            out.append((ts, v))
    return out


def bucket_means(samples: Sequence[tuple[int, float]], every_ms: int) -> list[tuple[int, float]]:
    """Means per `every_ms` bucket (epoch-aligned), empty buckets left out: one chart point per
    bucket, so a shift's thousands of samples become points whose noise is small beside a
    drift (and the Western Electric rules' false alarms, one in about 91 points in control,
    come hours apart rather than minutes)."""
    sums: dict[int, list[float]] = {}
    for ts, v in samples:
        acc = sums.setdefault(ts // every_ms * every_ms, [0.0, 0.0])
        acc[0] += v
        acc[1] += 1.0
    return [(b, acc[0] / acc[1]) for b, acc in sorted(sums.items())]


def default_baseline(n: int) -> int:
    """The points a page takes as its baseline: the first 20 (the usual number for I-MR
    limits). More would take in a drift (a tool wearing) and widen the limits around it."""
    return min(n, 20)
