"""The production calendar: which instants are shift time, break time or off time.

Shift clock times are wall-clock times in the plant's time zone, so day and shift boundaries
follow local time (Asia/Ho_Chi_Minh by default), never UTC. The simulator uses it to switch
machines off and on; the dashboard uses it to align 'current shift' and 'today'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shopfloor.config.schema import WEEKDAYS, Shift

PRODUCTION = "production"
PLANNED_STOP = "planned_stop"
OFF = "off"


@dataclass(frozen=True, slots=True)
class Segment:
    """A half-open interval [start_s, end_s) of epoch seconds with one calendar kind."""

    start_s: float
    end_s: float
    kind: str  # production | planned_stop | off
    shift: str | None = None


def _clock(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def _epoch(d: date, clock: str, tz: ZoneInfo) -> float:
    return datetime.combine(d, _clock(clock), tzinfo=tz).timestamp()


class ShiftCalendar:
    def __init__(self, shifts: Sequence[Shift] | None, tz: ZoneInfo | str):
        self.shifts = list(shifts) if shifts else None
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)

    @property
    def always_on(self) -> bool:
        return self.shifts is None

    def _worked(self, a_s: float, b_s: float) -> list[tuple[float, float, str, str]]:
        """(start, end, kind, shift) for shift and break intervals touching [a_s, b_s)."""
        assert self.shifts is not None
        out: list[tuple[float, float, str, str]] = []
        first = datetime.fromtimestamp(a_s, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(b_s, self.tz).date()
        d = first
        while d <= last:
            day = WEEKDAYS[d.weekday()]
            for shift in self.shifts:
                if day not in shift.days:
                    continue
                s0 = _epoch(d, shift.start, self.tz)
                end_day = d if shift.end > shift.start else d + timedelta(days=1)
                s1 = _epoch(end_day, shift.end, self.tz)
                if s1 <= a_s or s0 >= b_s:
                    continue
                cuts: list[tuple[float, float]] = []
                for brk in shift.breaks:
                    bday = d if brk.start >= shift.start else d + timedelta(days=1)
                    b0 = _epoch(bday, brk.start, self.tz)
                    cuts.append((b0, b0 + brk.minutes * 60.0))
                cuts.sort()
                t = s0
                for b0, b1 in cuts:
                    if b0 > t:
                        out.append((t, b0, PRODUCTION, shift.name))
                    out.append((b0, b1, PLANNED_STOP, shift.name))
                    t = b1
                if t < s1:
                    out.append((t, s1, PRODUCTION, shift.name))
            d += timedelta(days=1)
        out.sort()
        return out

    def segments(self, start_s: float, end_s: float) -> list[Segment]:
        """Contiguous segments covering [start_s, end_s) exactly, clipped at both ends."""
        if end_s <= start_s:
            return []
        if self.shifts is None:
            return [Segment(start_s, end_s, PRODUCTION, None)]
        segs: list[Segment] = []
        t = start_s
        for a, b, kind, name in self._worked(start_s, end_s):
            a, b = max(a, start_s), min(b, end_s)
            if b <= a or b <= t:
                continue
            a = max(a, t)
            if a > t:
                segs.append(Segment(t, a, OFF, None))
            segs.append(Segment(a, b, kind, name))
            t = b
        if t < end_s:
            segs.append(Segment(t, end_s, OFF, None))
        return segs

    def at(self, t_s: float) -> Segment:
        """The segment holding instant t_s, unclipped within a two-day window around it."""
        for seg in self.segments(t_s - 86400.0, t_s + 86400.0):
            if seg.start_s <= t_s < seg.end_s:
                return seg
        raise AssertionError("segments cover their window")  # pragma: no cover
