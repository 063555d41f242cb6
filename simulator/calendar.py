"""The shift calendar in simulation seconds, extended lazily so a live run can go on forever."""

from __future__ import annotations

from shopfloor.shifts import Segment, ShiftCalendar

# Boundaries are computed in float seconds; a timeout that lands within this of a boundary
# has reached it (otherwise rounding could leave a station looping on nanosecond timeouts).
EPS_S = 1e-6
_CHUNK_S = 7 * 86400.0


class SimCalendar:
    def __init__(self, calendar: ShiftCalendar, origin_s: float):
        self.calendar = calendar
        self.origin_s = origin_s
        self.segs: list[Segment] = []
        self._i = 0
        self._horizon = 0.0
        self._extend()

    def _extend(self) -> None:
        a = self._horizon
        b = a + _CHUNK_S
        for seg in self.calendar.segments(self.origin_s + a, self.origin_s + b):
            self.segs.append(
                Segment(seg.start_s - self.origin_s, seg.end_s - self.origin_s, seg.kind, seg.shift)
            )
        self._horizon = b

    def current(self, now: float) -> Segment:
        """The segment at sim time `now`; `now` never goes backwards in a run."""
        segs = self.segs
        i = self._i
        while segs[i].end_s <= now + EPS_S:
            i += 1
            if i == len(segs):
                self._extend()
                segs = self.segs
        self._i = i
        return segs[i]
