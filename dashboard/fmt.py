"""Numbers, money, dates and words as each language writes them.

Every number, date and machine-made token a page shows goes through here, so a Vietnamese
page reads 1.234.567,8, "3.123.590 ₫", 23/11/2026 and "Thứ Hai", and never shows a
snake_case token. The formats come from Babel's CLDR data (a well-kept locale library), not
from hand-made patterns.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from babel import dates as babel_dates

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


def axis_label(ts_ms: float, tz: tzinfo, lang: str | None, span_ms: float) -> str:
    """A time-axis tick: the time of day for a range within a day, else weekday and date."""
    if span_ms <= 26 * 3_600_000:
        return clock_time(ts_ms, tz, lang)
    if span_ms <= 8 * 86_400_000:
        return f"{weekday(ts_ms, tz, lang)} {babel_dates.format_date(local(ts_ms, tz), 'dd/MM', locale=locale(lang))} {clock_time(ts_ms, tz, lang)}"
    return babel_dates.format_date(local(ts_ms, tz), "dd/MM", locale=locale(lang))


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
