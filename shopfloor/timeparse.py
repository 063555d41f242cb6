"""Durations (`8h`, `30m`, `1h30m`, `7d`) and instants (ISO 8601) from the command line."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as 90s, 30m, 8h, 1h30m, 7d or 2w. Raises ValueError."""
    s = text.strip().lower()
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 30m, 8h, 1h30m, 7d)")
    if total <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return total


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """An aware datetime from ISO 8601; without an offset, the plant's local time is meant."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time (example: 2026-11-20T06:00+07:00)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt


def format_duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))
