from zoneinfo import ZoneInfo

import pytest

from shopfloor.timeparse import parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("8h", 28800),
        ("7d", 604800),
        ("1h30m", 5400),
        ("2w", 1209600),
        ("1.5h", 5400),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "8", "h", "5q", "8h-", "-1h", "0m", "1h 30x"])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


def test_instant_without_offset_is_plant_local_time():
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    a = parse_instant("2026-11-20T06:00", tz)
    b = parse_instant("2026-11-20T06:00+07:00", tz)
    c = parse_instant("2026-11-19T23:00Z", tz)
    assert a.timestamp() == b.timestamp() == c.timestamp()


def test_bad_instant():
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant("yesterday", ZoneInfo("UTC"))
