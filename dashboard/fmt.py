"""Numbers, money, dates and words as each language writes them.

Every number, date and machine-made token a page shows goes through here, so a Vietnamese
page reads 1.234.567,8, "3.123.590 ₫", 23/11/2026 and "Thứ Hai", and never shows a
snake_case token. The formats come from Babel's CLDR data (a well-kept locale library), not
from hand-made patterns.
"""

from __future__ import annotations

from datetime import tzinfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from dashboard.i18n import LABELS, t

# The Babel formats live in the kernel, shared with the end-of-shift report (CLI, demo).
from shopfloor.fmt import (  # noqa: F401  (this module is the dashboard's one entry point)
    LOCALES,
    clock_time,
    date,
    date_time,
    integer,
    local,
    locale,
    money,
    number,
    percent,
    weekday,
)

# Words for states, reasons, failure modes and tariff periods: the kernel's catalogue, shared
# with the end-of-shift PDF, so the two cannot drift apart.
from shopfloor.words import reason, state, words  # noqa: F401


def day_month(ts_ms: float, tz: tzinfo, lang: str | None) -> str:
    """23 Nov / 23 thg 11: the month by its name in the page's language."""
    return babel_dates.format_date(local(ts_ms, tz), "d MMM", locale=locale(lang))


def axis_label(ts_ms: float, tz: tzinfo, lang: str | None, span_ms: float) -> str:
    """A time-axis tick: the time of day for a range within a day, weekday and date (and the
    time off midnight) within a week, else the day and the month's name."""
    if span_ms <= 26 * 3_600_000:
        return clock_time(ts_ms, tz, lang)
    if span_ms <= 8 * 86_400_000:
        at = local(ts_ms, tz)
        day = babel_dates.format_date(at, "dd/MM", locale=locale(lang))
        hour = f" {clock_time(ts_ms, tz, lang)}" if (at.hour, at.minute) != (0, 0) else ""
        return f"{weekday(ts_ms, tz, lang)} {day}{hour}"
    return day_month(ts_ms, tz, lang)


# Tick steps a reader counts in (minutes), smallest first.
_STEPS_MS = tuple(
    m * 60_000 for m in (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 40320)
)
_DAY_MS = 86_400_000


def time_ticks(
    t0_ms: float, t1_ms: float, tz: tzinfo, lang: str | None, most: int = 8
) -> tuple[list[str], list[str]]:
    """Tick positions (local ISO times, as the figures give x) and their labels for a time
    axis over [t0, t1]: Plotly's own date labels are English-only, these come from Babel."""
    span = max(t1_ms - t0_ms, 1.0)
    step = next((s for s in _STEPS_MS if span / s <= most), _STEPS_MS[-1])
    start = local(t0_ms, tz)
    # On the local wall clock (a tick at 06:00, not 06:07; days from local midnight).
    midnight_ms = start.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000
    since = t0_ms - midnight_ms
    unit = min(step, _DAY_MS)
    first = midnight_ms + -(-since // unit) * unit
    vals: list[str] = []
    texts: list[str] = []
    tick = first
    while tick <= t1_ms and len(vals) < 4 * most:
        vals.append(local(tick, tz).isoformat())
        texts.append(axis_label(tick, tz, lang, span))
        tick += step
    return vals, texts


def zone(tz: tzinfo, lang: str | None) -> str:
    """The plant's time zone: in English its IANA key, as the config's `timezone:` spells it
    (Asia/Ho_Chi_Minh); in another language CLDR's name for it (Giờ Việt Nam), since the
    key's words are English."""
    key = getattr(tz, "key", None)
    if (lang or "en") == "en" and key:
        return str(key)
    return babel_dates.get_timezone_location(tz, locale=locale(lang))


def separators(lang: str | None) -> str:
    """Plotly's layout.separators (the decimal mark, then the group mark) for the language,
    so numeric axes and hover labels read 1.234,5 on a Vietnamese page."""
    loc = locale(lang)
    return babel_numbers.get_decimal_symbol(loc) + babel_numbers.get_group_symbol(loc)


def decimal(value: float, lang: str | None, most: int = 3) -> str:
    """A number with as many decimals as it has, up to `most`: 60 / 0,05 / 1.234,5."""
    pattern = "#,##0" + ("." + "#" * most if most > 0 else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale(lang))


def shift_label(name: str, start_ms: float, tz: tzinfo, lang: str | None) -> str:
    """A shift on a chart axis: weekday, date and its name (Mon 23/11 A / Thứ 2 23/11 A)."""
    day = babel_dates.format_date(local(start_ms, tz), "dd/MM", locale=locale(lang))
    return f"{weekday(start_ms, tz, lang)} {day} {name}".strip()


def param(name: str, lang: str | None) -> str:
    """A live parameter of the command contract (`mttr_min`, `cycle_s.mean`) by its name."""
    key = f"param.{name}"
    if key in LABELS:
        return t(key, lang or "en")
    return words(name, lang).replace(".", " ")
