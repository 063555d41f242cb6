"""Cycles counted from a legacy machine's power waveform (issue 12, brownfield cycles).

A legacy machine whose birth announces a stroke meter (`meter: {stroke_kw, stroke_s}`,
simulator/meter.py) shows each cycle as a short peak on its running load. Its samples are
the mean power over each sample window, so a stroke raises the window that holds it by

    rise = (stroke_kw - running_kw) * min(1, stroke_s / sample_s)

and a stroke split across two windows puts at least half of that into one of them. Peak
detection with hysteresis: armed, a sample at or above `running + HIGH * rise` counts one
cycle and disarms; a sample below `running + LOW * rise` re-arms. The band between the two
keeps noise on a peak (or a stroke spread over two windows) from counting twice. The
thresholds come from the power bands and stroke the birth announces, not from the data.

What it cannot see, and so how accuracy falls as the window grows (bench/README.md): a
stroke right after a stop shares its window with the lower power before it; once the rise
is no longer far above the noise, noise crosses the thresholds; and once a window is as long
as a cycle, two strokes share one.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGH = 0.3  # of the rise: well below the half a split stroke leaves in one of its windows
LOW = 0.15  # of the rise: re-arm only once the peak is over


def thresholds(
    running_kw: float, stroke_kw: float, stroke_s: float, sample_s: float
) -> tuple[float, float]:
    """(high, low) in kW for a machine's stroke seen through `sample_s` windows."""
    rise = (stroke_kw - running_kw) * min(1.0, stroke_s / sample_s)
    return running_kw + HIGH * rise, running_kw + LOW * rise


@dataclass(slots=True)
class CycleCounter:
    high: float
    low: float
    total: int = 0  # the cumulative count, as a machine's count channel carries it
    armed: bool = True

    def feed(self, power_kw: float) -> bool:
        """Take the next sample; True when it completes a counted cycle."""
        if self.armed:
            if power_kw >= self.high:
                self.armed = False
                self.total += 1
                return True
        elif power_kw < self.low:
            self.armed = True
        return False


def count_cycles(samples: list[float], high: float, low: float) -> int:
    """Cycles in a waveform (for tests and the sampling bench)."""
    counter = CycleCounter(high, low)
    for kw in samples:
        counter.feed(kw)
    return counter.total
