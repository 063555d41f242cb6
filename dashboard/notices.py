"""What a page says instead of drawing misleading charts (issue 10): a range with no planned
production (and when the next shift starts), a custom range that cannot be read, and which
shift "current shift" shows.

The fetch step (dashboard.data) decides *that* a notice applies, as an i18n key and its
values (instants as epoch ms); `text` words it in the page's language, with dashboard.fmt for
every time, so the decision is testable without a page and the wording lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from dash import html

from dashboard import fmt
from dashboard.i18n import t
from shopfloor.shifts import ShiftCalendar
from shopfloor.timerange import current_shift_s, next_shift_s, shift_windows


@dataclass(frozen=True)
class Notice:
    key: str  # an i18n key; its text may hold {name}, {start}, {end}, {next}, {tz}, {value}
    args: dict[str, Any] = field(default_factory=dict)  # *_ms values are instants


@dataclass(frozen=True)
class ShiftShown:
    """The shift the "current shift" range shows: outside shift hours it is the last one
    worked, which a page must say (it is not under way)."""

    name: str
    start_ms: int
    end_ms: int  # its scheduled end (breaks included)
    ended: bool
    next_name: str | None = None  # the next shift to start, when the shown one has ended
    next_start_ms: int | None = None


def shift_shown(now_s: float, cal: ShiftCalendar) -> ShiftShown | None:
    """Which shift "current shift" means at `now_s`; None for a plant without shifts."""
    if cal.always_on:
        return None
    s0, _, name = current_shift_s(now_s, cal)
    if name is None:
        return None
    wins = shift_windows(s0, s0 + 2 * 86400, cal)
    end = wins[0][2] if wins else now_s
    ended = cal.at(now_s).shift != name or end <= now_s
    nxt = next_shift_s(now_s, cal) if ended else None
    return ShiftShown(
        name,
        int(s0 * 1000),
        int(end * 1000),
        ended,
        nxt[0] if nxt else None,
        int(nxt[1] * 1000) if nxt else None,
    )


def no_planned(after_ms: int, cal: ShiftCalendar) -> Notice:
    """Nothing was planned in the range (outside shift hours): say so, and when the next
    shift after the range's end starts."""
    nxt = next_shift_s(after_ms / 1000, cal)
    if nxt is None:
        return Notice("notice.no_planned")
    return Notice("notice.no_planned_next", {"name": nxt[0], "start_ms": int(nxt[1] * 1000)})


def shown_notice(shown: ShiftShown) -> Notice:
    args: dict[str, Any] = {"name": shown.name, "start_ms": shown.start_ms, "end_ms": shown.end_ms}
    if not shown.ended:
        return Notice("notice.shift_under_way", args)
    if shown.next_name is None:
        return Notice("notice.shift_ended", args)
    return Notice(
        "notice.shift_ended_next",
        {**args, "next_name": shown.next_name, "next_ms": shown.next_start_ms},
    )


def text(notice: Notice, tz: tzinfo, lang: str | None) -> str:
    """The notice in the page's language: instants as the plant's local date and time."""
    lang = lang or "en"
    values: dict[str, str] = {}
    start = notice.args.get("start_ms")
    for key, value in notice.args.items():
        if key.endswith("_ms") and isinstance(value, int | float):
            same_day = (
                key == "end_ms"
                and start is not None
                and fmt.date(value - 1, tz, lang) == fmt.date(start, tz, lang)
            )
            values[key.removesuffix("_ms")] = (
                fmt.clock_time(value, tz, lang)
                if same_day
                else f"{fmt.weekday(value, tz, lang)} {fmt.date_time(value, tz, lang)}"
            )
        elif key == "tz":
            values[key] = fmt.zone(tz, lang)  # Giờ Việt Nam on a Vietnamese page
        else:
            values[key] = str(value)
    values.setdefault("tz", fmt.zone(tz, lang))
    return t(notice.key, lang).format(**values)


# A fetch step's "nothing stored" (dashboard.data re-exports it); a page words it by `plain`.
NO_DATA = "no data in the store for this range yet"


class StoreProblem(str):
    """A store's error (StoreError's own words: its URL or path and what failed), which a page
    shows inside a sentence in its language (`plain`); a str, so a view's `error` field and
    its comparisons keep working."""


def store_error(exc: Exception) -> StoreProblem:
    return StoreProblem(str(exc))


def plain(item: str, lang: str | None) -> str:
    """A fetch step's plain message in the page's language: a store's error inside a sentence
    saying the store cannot be read, "nothing stored yet" worded; any other text as it is."""
    lang = lang or "en"
    if isinstance(item, StoreProblem):
        return t("notice.store_error", lang).format(detail=str(item))
    if item == NO_DATA:
        return t("line.no_data", lang)
    return item


def texts(items: list[Notice | str | None], tz: tzinfo, lang: str | None) -> list[str]:
    """The page's message lines: notices worded, plain texts (a store's error) by `plain`."""
    return [
        text(item, tz, lang) if isinstance(item, Notice) else plain(item, lang)
        for item in items
        if item
    ]


def message(items: list[Notice | str | None], tz: tzinfo, lang: str | None) -> list[html.P] | None:
    """A page's message area: one paragraph per line, None when there is nothing to say."""
    return [html.P(line, className="notice") for line in texts(items, tz, lang)] or None
