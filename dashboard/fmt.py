"""Numbers, money, dates and words as each language writes them.

Every number, date and machine-made token a page shows goes through here, so a Vietnamese
page reads 1.234.567,8, "3.123.590 ₫", 23/11/2026 and "Thứ Hai", and never shows a
snake_case token. The formats come from Babel's CLDR data (a well-kept locale library), not
from hand-made patterns.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from dashboard.i18n import LABELS, t

LOCALES = {"en": "en_GB", "vi": "vi_VN"}  # en_GB: day/month order, as the plant writes dates


def locale(lang: str | None) -> str:
    return LOCALES.get(lang or "en", LOCALES["en"])


def number(value: float, lang: str | None, digits: int = 1) -> str:
    """1,234,567.8 in English, 1.234.567,8 in Vietnamese."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale(lang))


def integer(value: float, lang: str | None) -> str:
    return number(round(value), lang, 0)


def percent(ratio: float, lang: str | None, digits: int = 1) -> str:
    """A ratio (0.975) as a percentage: 97.5% / 97,5%."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
    return babel_numbers.format_percent(ratio, format=pattern, locale=locale(lang))


def money(value: float, currency: str, lang: str | None) -> str:
    """3,123,590 ₫ / 3.123.590 ₫: the currency's own decimals (none for VND)."""
    return babel_numbers.format_currency(value, currency, locale=locale(lang))


def _local(ts_ms: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz)


def date(ts_ms: float, tz: tzinfo, lang: str | None) -> str:
    """dd/mm/yyyy in both languages (the plant's local date)."""
    return babel_dates.format_date(_local(ts_ms, tz), "dd/MM/yyyy", locale=locale(lang))


def clock_time(ts_ms: float, tz: tzinfo, lang: str | None, seconds: bool = False) -> str:
    return babel_dates.format_time(
        _local(ts_ms, tz), "HH:mm:ss" if seconds else "HH:mm", locale=locale(lang)
    )


def date_time(ts_ms: float, tz: tzinfo, lang: str | None) -> str:
    return f"{date(ts_ms, tz, lang)} {clock_time(ts_ms, tz, lang)}"


def weekday(ts_ms: float, tz: tzinfo, lang: str | None, short: bool = True) -> str:
    """Mon / Th 2, Monday / Thứ Hai."""
    return babel_dates.format_date(
        _local(ts_ms, tz), "EEE" if short else "EEEE", locale=locale(lang)
    )


def axis_label(ts_ms: float, tz: tzinfo, lang: str | None, span_ms: float) -> str:
    """A time-axis tick: the time of day for a range within a day, else weekday and date."""
    if span_ms <= 26 * 3_600_000:
        return clock_time(ts_ms, tz, lang)
    if span_ms <= 8 * 86_400_000:
        return f"{weekday(ts_ms, tz, lang)} {babel_dates.format_date(_local(ts_ms, tz), 'dd/MM', locale=locale(lang))} {clock_time(ts_ms, tz, lang)}"
    return babel_dates.format_date(_local(ts_ms, tz), "dd/MM", locale=locale(lang))


_WAITING = re.compile(r"^waiting for (?P<what>.+)$")


def words(token: str, lang: str | None) -> str:
    """A machine-made token (`tool_breakage`, `off_peak`, `mttr_min`) as words: its entry in
    the catalogue under `word.<token>`, else the token with spaces for underscores (so no
    snake_case ever reaches a page, even for a token nobody has translated yet)."""
    key = f"word.{token}"
    if key in LABELS:
        return t(key, lang or "en")
    return token.replace("_", " ")


def reason(text: str | None, lang: str | None) -> str:
    """A state reason as the simulator or collector wrote it, in the page's language:
    `waiting for cnc-02` -> `chờ cnc-02`, `output buffer full`, `tool_breakage`, ..."""
    if not text:
        return ""
    match = _WAITING.match(text)
    if match and match["what"] != "material":
        return t("reason.waiting_for", lang or "en").format(what=match["what"])
    key = f"reason.{text}"
    if key in LABELS:
        return t(key, lang or "en")
    return words(text, lang)
