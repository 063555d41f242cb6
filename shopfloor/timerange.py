"""Named time ranges aligned to the plant's time zone and shifts (never UTC's day).

last_hour, current_shift, today, last_24h, last_7d, or custom. The dashboard's range picker and
`shopfloor kpi` resolve them here, so "today" in Ho Chi Minh City starts at local midnight and
"current shift" at the shift's local start.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shopfloor.shifts import ShiftCalendar

RANGES: tuple[str, ...] = ("last_hour", "current_shift", "today", "last_24h", "last_7d", "custom")


def local_midnight_s(t_s: float, cal: ShiftCalendar) -> float:
    local = datetime.fromtimestamp(t_s, cal.tz)
    return datetime(local.year, local.month, local.day, tzinfo=cal.tz).timestamp()


def current_shift_s(now_s: float, cal: ShiftCalendar) -> tuple[float, float, str | None]:
    """The shift now in (breaks included), or the last one that ended; with no shifts, today."""
    if cal.always_on:
        return local_midnight_s(now_s, cal), now_s, None
    segs = [s for s in cal.segments(now_s - 3 * 86400, now_s + 1) if s.start_s <= now_s]
    i = max((k for k, s in enumerate(segs) if s.shift is not None), default=None)
    if i is None:
        return local_midnight_s(now_s, cal), now_s, None
    name = segs[i].shift
    j = i
    while j > 0 and segs[j - 1].shift == name and segs[j - 1].end_s == segs[j].start_s:
        j -= 1
    end = min(segs[i].end_s, now_s)
    return segs[j].start_s, end, name


def next_shift_s(after_s: float, cal: ShiftCalendar) -> tuple[str, float] | None:
    """(name, start) of the first shift starting at or after `after_s` (within two weeks);
    None for a plant without shifts (always planned) or a calendar with none in that time.
    `after_s` is typically a range's end, which is exclusive: a shift starting exactly there
    is the next one (a range over the weekend's off time ends at Monday's first shift)."""
    if cal.always_on:
        return None
    day = 86400.0
    for k in range(14):
        # A shift under way at the window's start is not "next": it started before.
        for seg in cal.segments(after_s + k * day, after_s + (k + 1) * day):
            if (
                seg.shift is not None
                and seg.start_s >= after_s
                and cal.at(seg.start_s - 1e-3).shift != seg.shift
            ):
                return seg.shift, seg.start_s
    return None


def shift_windows(t0_s: float, t1_s: float, cal: ShiftCalendar) -> list[tuple[str, float, float]]:
    """(shift name, start, end) of each shift worked in [t0_s, t1_s), breaks included,
    clipped to the range; a plant without shifts gets one window per local day."""
    if cal.always_on:
        out = []
        day = local_midnight_s(t0_s, cal)
        while day < t1_s:
            nxt = local_midnight_s(day + 86400 + 7200, cal)  # safe across DST changes
            out.append(("", max(day, t0_s), min(nxt, t1_s)))
            day = nxt
        return out
    windows: list[tuple[str, float, float]] = []
    for seg in cal.segments(t0_s, t1_s):
        if seg.shift is None:
            continue
        if windows and windows[-1][0] == seg.shift and windows[-1][2] == seg.start_s:
            windows[-1] = (seg.shift, windows[-1][1], seg.end_s)
        else:
            windows.append((seg.shift, seg.start_s, seg.end_s))
    return windows


def resolve(
    kind: str, now_s: float, cal: ShiftCalendar, custom: tuple[float, float] | None = None
) -> tuple[float, float]:
    """(start_s, end_s) in epoch seconds. Raises ValueError for an unknown kind or a bad custom range."""
    if kind == "last_hour":
        return now_s - 3600, now_s
    if kind == "current_shift":
        start, end, _ = current_shift_s(now_s, cal)
        return start, end
    if kind == "today":
        return local_midnight_s(now_s, cal), now_s
    if kind == "last_24h":
        return now_s - 86400, now_s
    if kind == "last_7d":
        return now_s - timedelta(days=7).total_seconds(), now_s
    if kind == "custom":
        if custom is None or custom[1] <= custom[0]:
            raise ValueError("a custom range needs a start before its end")
        return custom
    raise ValueError(f"unknown range {kind!r}: one of {', '.join(RANGES)}")
