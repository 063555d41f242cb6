"""Brownfield machines: state and energy estimated from a clamp-on power meter.

A `connectivity: legacy` machine publishes only power_kw (see docs/architecture.md, "Legacy
machines"). From each sample the collector derives, and stores marked inferred:

- its state. With the plant's shift calendar (`shopfloor collect --config`), time outside every
  shift is `off` ("outside shift") and a break is `planned_stop` ("break"), whatever the power
  (a press may idle through a break), and the change is stamped at the calendar's boundary;
  inside working time the sample goes to the state whose power is nearest (states that draw
  the same power are one band: the first of running, idle, off, down, setup wins), and a
  machine drawing its `off` power in working time is `idle`: an availability loss, not planned
  time. Without a calendar the band alone decides (off included), as before.
- an energy meter it does not have: the trapezoid integral of its power samples, as a
  cumulative `energy_kwh` reading at each sample's ts and seq, stored like a real meter's, so
  quarters, demand, cost and CO2e include it with no extra read. Samples more than
  GAP_SAMPLES intervals apart are not bridged (the machine was not heard from: nothing is
  counted for the gap); a late sample (older than the newest one) changes neither state nor
  meter, since the interval it falls in was already bridged. The meter goes on from the
  store's last reading when the collector starts again (`seed`).

A sample drawing more than PLAUSIBLE_X times the machine's highest stated power (a garbled or
forged value: 1e305 kW is a valid JSON number) is stored but not believed: it changes neither
state nor meter, as if lost. Integrated, it would leave the cumulative estimate infinite or so
large that later samples no longer move it, for good (the next start seeds from it).

- with a stroke meter (its birth announces `meter: {stroke_kw, stroke_s}`, issue 12), its
  cycles: counted from the waveform by peak detection with hysteresis (collector/cycles.py),
  a cumulative `count` reading (total, good = total, scrap 0: a meter sees no scrap) at each
  counted sample's ts and seq, so the report takes its counted parts instead of assuming its
  ideal cycle. The count goes on from the store's newest reading when the collector starts
  again. A restarted collector may get the samples its broker session kept before the
  machine's retained birth (which says what stroke to look for): those of a machine the
  store has counts of wait (up to AWAIT_SAMPLES) and are counted when the birth comes.

The derived records reuse the sample's seq: they are the collector's own (an inferred state
is flagged in the store; an estimated reading is told apart by its machine's connectivity),
so they never raise a machine's highest seq nor fill a hole.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import deque
from dataclasses import dataclass

from collector.cycles import CycleCounter, thresholds
from shopfloor.shifts import OFF, PLANNED_STOP, PRODUCTION, Segment, ShiftCalendar
from shopfloor.store.base import Record

BAND_ORDER = ("running", "idle", "off", "down", "setup")
# The reasons the simulator gives calendar states (simulator/station.py), so a legacy machine's
# breaks read like every other machine's on the loss pages.
CALENDAR_REASON = {OFF: "outside shift", PLANNED_STOP: "break"}
POWER_REASON = "inferred from power"
GAP_SAMPLES = 5  # sample intervals bridged by the meter estimate (a few lost samples)
DEFAULT_SAMPLE_INTERVAL_S = 10.0
PLAUSIBLE_X = 10.0  # a sample above this many times the highest stated power is not believed
AWAIT_SAMPLES = 100_000  # samples kept per machine for a counter whose birth has not come yet

log = logging.getLogger("shopfloor.collect")


def counted(total: int) -> dict[str, int]:
    """A counted cycle reading: a power meter sees no scrap, so every part counts as good."""
    return {"total": total, "good": total, "scrap": 0}


class CalendarCursor:
    """The calendar segment of an instant, from a cached window of segments (a collector asks
    once per legacy sample, mostly for the same segment)."""

    WINDOW_S = 3 * 86400.0

    def __init__(self, calendar: ShiftCalendar):
        self.calendar = calendar
        self.segs: list[Segment] = []
        self.starts: list[float] = []
        self.lo = self.hi = 0.0

    def at(self, t_s: float) -> Segment:
        if not (self.lo + 86400.0 <= t_s < self.hi - 86400.0) or not self.segs:
            # Wide enough that the segment holding t_s starts inside the window (an off
            # segment longer than two days would be clipped at the window's start).
            self.lo, self.hi = t_s - self.WINDOW_S, t_s + self.WINDOW_S
            self.segs = self.calendar.segments(self.lo, self.hi)
            self.starts = [s.start_s for s in self.segs]
        return self.segs[bisect.bisect_right(self.starts, t_s) - 1]


@dataclass(slots=True)
class _Meter:
    ts: int  # the newest sample integrated (ms)
    kw: float | None  # its power (None: unknown, the next sample is not bridged)
    kwh: float  # the estimated cumulative reading at ts


class PowerStates:
    def __init__(self, calendar: ShiftCalendar | None = None) -> None:
        self.bands: dict[str, list[tuple[float, str]]] = {}
        self.current: dict[str, str] = {}
        self.interval_ms: dict[str, int] = {}
        self.meters: dict[str, _Meter] = {}
        self.implausible: dict[str, int] = {}  # samples not believed, per machine
        self.counters: dict[str, CycleCounter] = {}  # machines with a stroke meter
        self.counted: dict[str, int] = {}  # the store's newest counted total, to go on from
        self.awaiting: dict[str, deque[Record]] = {}  # samples before the birth (see above)
        # A 24/7 plant's calendar too: all of its time is working time (no power is idle).
        self.cursor = CalendarCursor(calendar) if calendar is not None else None

    def learn(
        self,
        machine: str,
        power_kw: dict[str, float],
        sample_interval_s: float | None = None,
        meter: dict[str, float] | None = None,
    ) -> list[Record]:
        """Take a legacy machine's birth: its power bands, sample interval and stroke meter.
        Returns the count readings of samples that waited for it (a restart's)."""
        seen: dict[float, str] = {}
        for state in BAND_ORDER:
            if state in power_kw:
                seen.setdefault(float(power_kw[state]), state)
        self.bands[machine] = sorted(seen.items())
        self.current.pop(machine, None)
        self.interval_ms[machine] = round((sample_interval_s or DEFAULT_SAMPLE_INTERVAL_S) * 1000)
        waited = self.awaiting.pop(machine, ())
        if not meter or "running" not in power_kw:
            self.counters.pop(machine, None)
            return []
        high, low = thresholds(
            float(power_kw["running"]),
            float(meter["stroke_kw"]),
            float(meter["stroke_s"]),
            sample_interval_s or DEFAULT_SAMPLE_INTERVAL_S,
        )
        # A new birth (the machine's meter restarted) keeps the count going: it is ours.
        known = self.counters.get(machine)
        total = known.total if known is not None else self.counted.get(machine, 0)
        counter = self.counters[machine] = CycleCounter(high, low, total)
        return [
            self._derived(sample, "count", sample.ts, counted(counter.total))
            for sample in waited
            if counter.feed(float(sample.payload["power_kw"]))
        ]

    def seed(
        self, machine: str, ts: int, kwh: float, kw: float | None, state: str | None = None
    ) -> None:
        """Go on from what the store holds: the newest estimated reading (at the sample of
        `ts`, which drew `kw`) and the newest inferred state."""
        self.meters[machine] = _Meter(ts, kw, kwh)
        if state is not None:
            self.current[machine] = state

    def is_legacy(self, machine: str) -> bool:
        return machine in self.bands

    def classify(self, machine: str, power_kw: float) -> str:
        return min(self.bands[machine], key=lambda b: abs(b[0] - power_kw))[1]

    def state_at(self, machine: str, ts: int, power_kw: float) -> tuple[str, str, int | None]:
        """(state, reason, start of its calendar segment in ms or None) of a sample."""
        band = self.classify(machine, power_kw)
        if self.cursor is None:
            return band, POWER_REASON, None
        seg = self.cursor.at(ts / 1000.0)
        start = round(seg.start_s * 1000)
        if seg.kind != PRODUCTION:
            return seg.kind, CALENDAR_REASON[seg.kind], start
        return ("idle" if band == "off" else band), POWER_REASON, start

    def infer(self, sample: Record) -> list[Record]:
        """The records a sample adds: an inferred state when it shows a new one, and the
        estimated meter reading (none for a late sample)."""
        m = sample.machine
        kw = float(sample.payload["power_kw"])
        meter = self.meters.get(m)
        if meter is not None and sample.ts <= meter.ts:
            return []  # late: its interval is already bridged, its state already told
        top = self.bands[m][-1][0] if self.bands.get(m) else 0.0
        if top > 0 and not kw <= PLAUSIBLE_X * top:
            n = self.implausible[m] = self.implausible.get(m, 0) + 1
            if n == 1:
                log.warning(
                    "legacy machine %s: a sample of %g kW, over %g times its highest stated "
                    "power (%g kW), is stored but changes neither its state nor its estimated "
                    "energy (further ones are not logged)", m, kw, PLAUSIBLE_X, top,
                )  # fmt: skip
            return []
        out: list[Record] = []
        state, reason, seg_start = self.state_at(m, sample.ts, kw)
        before = self.current.get(m)
        if before != state:
            ts = sample.ts
            calendar_edge = state in CALENDAR_REASON or before in CALENDAR_REASON
            # The calendar says when it changed: between the two samples, at its boundary.
            if calendar_edge and seg_start is not None and meter is not None:
                ts = seg_start if meter.ts < seg_start <= sample.ts else ts
            self.current[m] = state
            out.append(self._derived(sample, "state", ts, {"state": state, "reason": reason}))
        kwh = 0.0
        if meter is not None:
            kwh = meter.kwh
            dt = sample.ts - meter.ts
            if meter.kw is not None and dt <= GAP_SAMPLES * self.interval_ms.get(m, 10_000):
                step = (meter.kw + kw) / 2.0 * dt / 3_600_000.0
                kwh += step if math.isfinite(step) else 0.0
        self.meters[m] = _Meter(sample.ts, kw, kwh)
        out.append(self._derived(sample, "energy", sample.ts, {"energy_kwh": round(kwh, 6)}))
        counter = self.counters.get(m)
        if counter is not None:
            if counter.feed(kw):
                out.append(self._derived(sample, "count", sample.ts, counted(counter.total)))
        elif m in self.counted:
            self.awaiting.setdefault(m, deque(maxlen=AWAIT_SAMPLES)).append(sample)
        return out

    @staticmethod
    def _derived(sample: Record, channel: str, ts: int, payload: dict) -> Record:
        return Record(
            sample.enterprise, sample.site, sample.area, sample.line, sample.machine, channel,
            ts, sample.seq, payload, inferred=True,
        )  # fmt: skip
