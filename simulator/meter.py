"""A legacy machine's clamp-on meter that sees each stroke (issue 12, brownfield cycles).

With `meter:` set on a `connectivity: legacy` station, each cycle starts with a stroke: for
`stroke_s` the machine draws `stroke_kw` instead of its running base load (power_kw.running).
The meter samples every `sample_s` (its own rate, not the plant's sampler) and reports the
MEAN power over the window that ends at the sample: the energy it integrated over the window
divided by the window, as an integrating meter's demand register does. So a stroke shorter
than the window still shows, diluted to stroke_s / sample_s of its rise, and a stroke split
across two windows puts at least half of that rise into one of them (what the collector's
half-rise threshold relies on, collector/cycles.py).

The exact energy is the station's state energy plus the strokes' extra energy, so the
ground truth and the samples agree: Station.meter_kwh() adds `extra_kwh`. A stroke whose
cycle starts outside production time (a part taken right at a break) happens when production
resumes; a breakdown within a stroke does not cut it short (a stroke is 1-2 s of a cycle).

The hot path stays cheap: the station records a stroke's start time once per cycle
(Station.work); the sampler reads the exact meter at each tick. Noise draws from the meter's
own stream, created only for a metered station (the others' streams are untouched).

`power_kw` and `energy_kwh` hold the meter's latest sample and cumulative reading (kWh, this
run's), for servers that expose the meter itself (e.g. a Modbus power-meter device).
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from shopfloor.config.schema import Meter, PlantConfig
from shopfloor.shifts import PRODUCTION

if TYPE_CHECKING:
    from simulator.station import Station

NOISE = 0.04  # the same relative noise as every other power sample (Station.sample)


class StrokeMeter:
    def __init__(self, station: Station, spec: Meter, sample_s: float, rng: random.Random):
        self.station = station
        self.sample_s = sample_s
        self.stroke_s = spec.stroke_s
        self.stroke_kw = spec.stroke_kw
        # The stroke's energy on top of the running load it replaces, per second.
        self.extra_kwh_per_s = (spec.stroke_kw - station.power_kw["running"]) / 3600.0
        self.rng = rng
        self.starts: deque[float] = deque()  # strokes not yet booked whole
        self.done_kwh = 0.0  # extra energy of the strokes booked whole
        self.strokes = 0  # strokes started (ground truth: one per cycle)
        self.power_kw = 0.0  # the latest sample
        self.energy_kwh = 0.0  # the exact cumulative reading at the latest sample

    def stroke(self, now: float) -> None:
        """A cycle starts now (called by Station.work right after it turns running)."""
        cal = self.station.calendar
        seg = cal.current(now)
        if seg.kind != PRODUCTION:
            now = self._next_production(now)
        self.starts.append(now)
        self.strokes += 1

    def _next_production(self, now: float) -> float:
        segs = self.station.calendar.segs
        i = bisect.bisect_right(segs, now, key=lambda s: s.start_s)
        for seg in segs[i:]:
            if seg.kind == PRODUCTION:
                return seg.start_s
        return now  # beyond the calendar's horizon (a week ahead): not worth extending for

    def extra_kwh(self, now: float) -> float:
        """The strokes' extra energy up to `now` (never called with an earlier `now`)."""
        starts = self.starts
        stroke_s = self.stroke_s
        while starts and starts[0] + stroke_s <= now:
            starts.popleft()
            self.done_kwh += stroke_s * self.extra_kwh_per_s
        kwh = self.done_kwh
        for s in starts:
            if s < now:
                kwh += (now - s) * self.extra_kwh_per_s
        return kwh

    def run(self) -> Generator[simpy.Event, Any, None]:
        """Publish a telemetry sample (power_kw only, as every legacy machine's) every
        `sample_s`."""
        st = self.station
        env = st.env
        every = self.sample_s
        rnd = self.rng.random
        prev = st.meter_kwh()
        # The first sample has no window behind it: the power drawn at that instant.
        power = st.power_kw[st.state or "off"]
        while True:
            if power > 0:
                power *= 1.0 + NOISE * (rnd() + rnd() + rnd() - 1.5)
            self.power_kw = round(power, 3)
            st.emitter.emit("telemetry", {"power_kw": self.power_kw})
            yield env.timeout(every)
            kwh = st.meter_kwh()
            self.energy_kwh = kwh
            power = max(0.0, (kwh - prev) * 3600.0 / every)
            prev = kwh


def attach_meter(st: Station, spec: Meter, cfg: PlantConfig, stream: str) -> None:
    """Give a legacy station its stroke meter, with noise from a stream of its own."""
    sample_s = spec.sample_s or cfg.telemetry.sample_interval_s
    st.meter = StrokeMeter(st, spec, sample_s, random.Random(stream))


def meter_birth(meter: StrokeMeter) -> dict[str, Any]:
    """What the birth message says of a stroke meter, for the collector's cycle counter
    (collector/cycles.py): its own sample interval and the stroke it should see."""
    return {
        "sample_interval_s": meter.sample_s,
        "meter": {"stroke_kw": meter.stroke_kw, "stroke_s": meter.stroke_s},
    }
