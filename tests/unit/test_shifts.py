import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from shopfloor.config.schema import Shift
from shopfloor.shifts import OFF, PLANNED_STOP, PRODUCTION, ShiftCalendar

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TWO_SHIFTS = [
    Shift(name="A", start="06:00", end="14:00", breaks=[{"start": "10:00", "minutes": 30}]),
    Shift(name="B", start="14:00", end="22:00", breaks=[{"start": "18:00", "minutes": 30}]),
]


def _local(*args):
    return datetime(*args, tzinfo=TZ).timestamp()


def test_day_boundaries_are_local_not_utc():
    cal = ShiftCalendar(TWO_SHIFTS, TZ)
    day0 = _local(2026, 11, 23)
    segs = cal.segments(day0, day0 + 86400)
    by_kind: dict[str, float] = {}
    for s in segs:
        by_kind[s.kind] = by_kind.get(s.kind, 0) + s.end_s - s.start_s
    assert by_kind == {OFF: 8 * 3600, PRODUCTION: 15 * 3600, PLANNED_STOP: 3600}
    first_prod = next(s for s in segs if s.kind == PRODUCTION)
    # 06:00 in Ho Chi Minh City is 23:00 UTC the day before.
    assert datetime.fromtimestamp(first_prod.start_s, ZoneInfo("UTC")).hour == 23
    assert first_prod.shift == "A"


def test_segments_are_contiguous_and_clipped():
    cal = ShiftCalendar(TWO_SHIFTS, TZ)
    a = _local(2026, 11, 23, 9, 17)
    b = _local(2026, 11, 25, 19, 3)
    segs = cal.segments(a, b)
    assert segs[0].start_s == a
    assert segs[-1].end_s == b
    for x, y in itertools.pairwise(segs):
        assert x.end_s == y.start_s


def test_overnight_shift_and_weekdays():
    night = Shift(
        name="N",
        start="22:00",
        end="06:00",
        days=["fri"],
        breaks=[{"start": "02:00", "minutes": 30}],
    )
    cal = ShiftCalendar([night], TZ)
    fri = _local(2026, 11, 27)  # a Friday
    segs = cal.segments(fri, fri + 3 * 86400)
    prod = [s for s in segs if s.kind == PRODUCTION]
    brk = [s for s in segs if s.kind == PLANNED_STOP]
    assert [round((s.end_s - s.start_s) / 3600, 2) for s in prod] == [4.0, 3.5]
    assert prod[0].start_s == _local(2026, 11, 27, 22)
    assert brk[0].start_s == _local(2026, 11, 28, 2)
    assert cal.at(_local(2026, 11, 28, 3)).kind == PRODUCTION
    assert cal.at(_local(2026, 11, 28, 12)).kind == OFF


def test_no_shifts_means_always_producing():
    cal = ShiftCalendar(None, TZ)
    assert cal.segments(0, 100)[0].kind == PRODUCTION
    assert cal.always_on
