"""Numbers, money and dates as each language writes them, for everything that shows them to a
person: the dashboard (dashboard.fmt adds its words and reasons on top) and the end-of-shift
report (shopfloor.shiftreport), which the CLI and the demo write without the dashboard.

The formats come from Babel's CLDR data (a well-kept locale library), not from hand-made
patterns: Vietnamese reads 1.234.567,8, "3.123.590 ₫", 23/11/2026 and "Thứ Hai".
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

LOCALES = {"en": "en_GB", "vi": "vi_VN"}  # en_GB: day/month order, as the plant writes dates


def locale(lang: str | None) -> str:
    return LOCALES.get(lang or "en", LOCALES["en"])


@lru_cache(maxsize=64)  # bounded: `lang` comes from a page
def _number_format(lang: str | None, pattern: str) -> tuple[babel_numbers.NumberPattern, Locale]:
    # Parsed once: a page writes thousands of numbers per refresh (the overview's table and
    # cards on a 225-station plant), and parsing the pattern and locale each time doubled it.
    return babel_numbers.parse_pattern(pattern), Locale.parse(locale(lang))


def number(value: float, lang: str | None, digits: int = 1) -> str:
    """1,234,567.8 in English, 1.234.567,8 in Vietnamese."""
    pattern, loc = _number_format(lang, "#,##0" + ("." + "0" * digits if digits > 0 else ""))
    return babel_numbers.format_decimal(value, format=pattern, locale=loc)


def integer(value: float, lang: str | None) -> str:
    return number(round(value), lang, 0)


def percent(ratio: float, lang: str | None, digits: int = 1) -> str:
    """A ratio (0.975) as a percentage: 97.5% / 97,5%."""
    pattern, loc = _number_format(lang, "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%")
    return babel_numbers.format_percent(ratio, format=pattern, locale=loc)


def money(value: float, currency: str, lang: str | None) -> str:
    """3,123,590 ₫ / 3.123.590 ₫: the currency's own decimals (none for VND)."""
    return babel_numbers.format_currency(value, currency, locale=locale(lang))


def local(ts_ms: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz)


def date(ts_ms: float, tz: tzinfo, lang: str | None) -> str:
    """dd/mm/yyyy in both languages (the plant's local date)."""
    return babel_dates.format_date(local(ts_ms, tz), "dd/MM/yyyy", locale=locale(lang))


def clock_time(ts_ms: float, tz: tzinfo, lang: str | None, seconds: bool = False) -> str:
    return babel_dates.format_time(
        local(ts_ms, tz), "HH:mm:ss" if seconds else "HH:mm", locale=locale(lang)
    )


def date_time(ts_ms: float, tz: tzinfo, lang: str | None) -> str:
    return f"{date(ts_ms, tz, lang)} {clock_time(ts_ms, tz, lang)}"


def weekday(ts_ms: float, tz: tzinfo, lang: str | None, short: bool = True) -> str:
    """Mon / Th 2, Monday / Thứ Hai."""
    return babel_dates.format_date(
        local(ts_ms, tz), "EEE" if short else "EEEE", locale=locale(lang)
    )
