from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shopfloor.config.schema import Shift
from shopfloor.shifts import ShiftCalendar
from shopfloor.timerange import current_shift_s, next_shift_s, resolve

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = ShiftCalendar(
    [
        Shift(
            name="A",
            start="06:00",
            end="14:00",
            days=["mon", "tue", "wed", "thu", "fri", "sat"],
            breaks=[{"start": "10:00", "minutes": 30}],
        ),
        Shift(
            name="B", start="14:00", end="22:00", days=["mon", "tue", "wed", "thu", "fri", "sat"]
        ),
    ],
    TZ,
)


def at(*args) -> float:
    return datetime(*args, tzinfo=TZ).timestamp()


def test_today_starts_at_local_midnight_not_utc():
    now = at(2026, 11, 24, 3, 0)  # 03:00 local is 20:00 UTC the day before
    assert resolve("today", now, CAL) == (at(2026, 11, 24), now)


def test_current_shift_spans_its_break():
    now = at(2026, 11, 24, 10, 15)  # on shift A's break
    start, end, name = current_shift_s(now, CAL)
    assert (start, end, name) == (at(2026, 11, 24, 6), now, "A")


def test_current_shift_next_shift_starts_fresh():
    now = at(2026, 11, 24, 15, 0)
    assert current_shift_s(now, CAL) == (at(2026, 11, 24, 14), now, "B")


def test_off_shift_shows_the_last_shift():
    now = at(2026, 11, 25, 2, 0)  # night: B ended at 22:00
    assert current_shift_s(now, CAL) == (at(2026, 11, 24, 14), at(2026, 11, 24, 22), "B")
    sunday = at(2026, 11, 29, 12, 0)  # no shift on Sunday: Saturday's B
    assert current_shift_s(sunday, CAL)[2] == "B"
    assert current_shift_s(sunday, CAL)[0] == at(2026, 11, 28, 14)


def test_fixed_ranges_and_errors():
    now = at(2026, 11, 24, 12)
    assert resolve("last_hour", now, CAL) == (now - 3600, now)
    assert resolve("last_24h", now, CAL) == (now - 86400, now)
    assert resolve("last_7d", now, CAL) == (now - 7 * 86400, now)
    assert resolve("custom", now, CAL, (now - 5, now)) == (now - 5, now)
    with pytest.raises(ValueError, match="start before its end"):
        resolve("custom", now, CAL, (now, now - 5))
    with pytest.raises(ValueError, match="unknown range"):
        resolve("yesterday", now, CAL)


def test_no_shifts_current_shift_is_today():
    cal = ShiftCalendar(None, TZ)
    now = at(2026, 11, 24, 12)
    assert current_shift_s(now, cal) == (at(2026, 11, 24), now, None)


def test_next_shift_at_the_exclusive_end_of_an_off_range():
    # A range over the weekend's off time, [Saturday 22:00, Monday 06:00), ends where shift A
    # starts: that is the next shift (it used to name Monday's B at 14:00).
    assert next_shift_s(at(2026, 11, 30, 6), CAL) == ("A", at(2026, 11, 30, 6))
    assert next_shift_s(at(2026, 11, 28, 22), CAL) == ("A", at(2026, 11, 30, 6))
    # No shift on Sunday: the next one is Monday's, whatever the hour.
    assert next_shift_s(at(2026, 11, 29, 0, 0, 1), CAL) == ("A", at(2026, 11, 30, 6))
    # A shift under way is not the next one, nor is its own return from a break.
    assert next_shift_s(at(2026, 11, 30, 7), CAL) == ("B", at(2026, 11, 30, 14))
    # B follows A with no gap: it is a new shift.
    assert next_shift_s(at(2026, 11, 30, 13, 59), CAL) == ("B", at(2026, 11, 30, 14))
    assert next_shift_s(at(2026, 11, 30, 12), ShiftCalendar(None, TZ)) is None


def test_next_shift_across_midnight_and_a_dst_change():
    night = Shift(name="N", start="22:00", end="06:00", days=["mon", "tue", "wed", "thu", "fri"])
    day = Shift(name="D", start="06:00", end="14:00", days=["mon", "tue", "wed", "thu", "fri"])
    cal = ShiftCalendar([day, night], TZ)
    # Under way across midnight, N is not next; D follows it at 06:00 with no gap.
    assert next_shift_s(at(2026, 11, 24, 23, 30), cal) == ("D", at(2026, 11, 25, 6))
    assert next_shift_s(at(2026, 11, 25, 0, 30), cal) == ("D", at(2026, 11, 25, 6))
    # Friday's N ends Saturday 06:00; nothing until Monday's D.
    assert next_shift_s(at(2026, 11, 28, 6), cal) == ("D", at(2026, 11, 30, 6))
    # A zone with daylight saving time: the night to Sunday 25 October 2026 is an hour longer
    # in Berlin, so Monday's 06:00 (local, 05:00 UTC) is 43 h after Saturday's noon, not 42.
    berlin = ZoneInfo("Europe/Berlin")
    cal = ShiftCalendar([day], berlin)
    saturday_noon = datetime(2026, 10, 24, 12, tzinfo=berlin).timestamp()
    monday_six = datetime(2026, 10, 26, 6, tzinfo=berlin).timestamp()
    assert monday_six - saturday_noon == 43 * 3600
    assert next_shift_s(saturday_noon, cal) == ("D", monday_six)
