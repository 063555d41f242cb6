"""The KPI cards' windows and builders without a browser: which shift is the previous one,
how a range is cut for the sparklines, and what a card shows when a KPI is undefined."""

from __future__ import annotations

from itertools import pairwise
from zoneinfo import ZoneInfo

import orjson
import pytest

from collector.validate import validate
from dashboard import cards
from dashboard.context import DashContext
from dashboard.data import Overview, overview, previous_shift_s, trend_bounds
from shopfloor.config import load_config
from shopfloor.report import entry
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from shopfloor.targets import DEFAULTS
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import PLANT, instant_s

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = ShiftCalendar(load_config(PLANT).shifts, TZ)  # A 06-14, B 14-22, Monday to Saturday


def at(iso: str) -> float:
    return instant_s(iso + "+07:00")


def test_previous_shift_is_the_one_before_over_the_same_elapsed_time():
    now, before = previous_shift_s(at("2026-11-23T15:30:00"), CAL)  # Monday, B under way
    assert now == ("B", at("2026-11-23T14:00:00"), at("2026-11-23T15:30:00"))
    assert before == ("A", at("2026-11-23T06:00:00"), at("2026-11-23T07:30:00"))
    # Monday's first shift follows Saturday's last (no shifts on Sunday).
    _, before = previous_shift_s(at("2026-11-23T07:00:00"), CAL)
    assert before == ("B", at("2026-11-21T14:00:00"), at("2026-11-21T15:00:00"))
    # After B has ended, "current" is the whole of B and the previous is the whole of A.
    now, before = previous_shift_s(at("2026-11-23T23:00:00"), CAL)
    assert (now[1], now[2]) == (at("2026-11-23T14:00:00"), at("2026-11-23T22:00:00"))
    assert before == ("A", at("2026-11-23T06:00:00"), at("2026-11-23T14:00:00"))


def test_a_plant_without_shifts_compares_with_the_day_before():
    now, before = previous_shift_s(at("2026-11-23T10:00:00"), ShiftCalendar(None, TZ))
    assert now == ("", at("2026-11-23T00:00:00"), at("2026-11-23T10:00:00"))
    assert before == ("", at("2026-11-22T00:00:00"), at("2026-11-22T10:00:00"))


def test_sparkline_buckets(tmp_path):
    ctx = DashContext(SqliteStore(tmp_path / "s.db"), load_config(PLANT), TZ, CAL)
    end = int(at("2026-11-24T00:00:00") * 1000)
    shift = trend_bounds(ctx, end - 8 * 3_600_000, end)
    assert len(shift) == 8 and all(b - a == 3_600_000 for a, b in shift)
    # A day: 24 hours, two to a point (at most 12 points), back to back.
    day = trend_bounds(ctx, end - 86_400_000, end)
    assert len(day) == 12 and all(b - a == 7_200_000 for a, b in day)
    assert all(b == c for (_, b), (c, _) in pairwise(day))
    # A week by shift: Tuesday to Saturday and Monday, two shifts each.
    week = trend_bounds(ctx, end - 7 * 86_400_000, end)
    assert len(week) == 12
    assert week[0] == (int(at("2026-11-17T06:00:00") * 1000), int(at("2026-11-17T14:00:00") * 1000))
    # A long custom range: never more than 12 points, from its first shift to its last.
    year = trend_bounds(ctx, end - 365 * 86_400_000, end)
    assert len(year) <= 12
    assert year[0][0] >= end - 365 * 86_400_000 and year[-1][1] == int(
        at("2026-11-23T22:00:00") * 1000
    )


def test_a_card_without_planned_time_reads_a_dash_and_has_no_colour():
    idle = entry({"off": 3600.0}, 0, 0, 0, 45.0, 1.5)
    data = Overview({"plant": idle, "lines": {}, "machines": {}}, {}, None, 0, 3_600_000)
    card = cards.kpi_card("oee", "plant:oee", idle, data, lambda r: r["plant"], DEFAULTS, TZ, "en")
    assert card.__dict__["data-status"] == "none"
    body = card.children.children.children
    assert body[1].children == "–"


def test_machine_page_marks_a_legacy_machines_counters(tmp_path):
    import sys
    from types import SimpleNamespace

    import dashboard.app  # noqa: F401  (registers the pages)

    page = sys.modules.get("pages.machine")
    if page is None:
        from dashboard.app import create_app

        create_app(SqliteStore(tmp_path / "s.db"), load_config(PLANT))
        page = sys.modules["pages.machine"]
    legacy = entry({"running": 3600.0}, 80, 80, 0, 45.0, 12.0)
    legacy.update(inferred=True, energy_estimated=True, energy_estimated_kwh=12.0)
    marks = [
        c.className.split()
        for c in page.counters(SimpleNamespace(entry=legacy), "en")
        if "data-counter" not in c.__dict__
    ]
    assert ["inferred-mark" in m for m in marks] == [True, False]
    assert "estimated-mark" in marks[1]
    full = entry({"running": 3600.0}, 80, 78, 2, 45.0, 12.0)
    shown = page.counters(SimpleNamespace(entry=full), "en")
    assert all("data-counter" in c.__dict__ for c in shown)


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from _walk(child)


def _marked(component, attr: str) -> list:
    return [c for c in _walk(component) if attr in getattr(c, "__dict__", {})]


@pytest.fixture(scope="module")
def weekend_then_monday(tmp_path_factory):
    """The demo plant simulated from Saturday 22:00 (after its last shift) to Monday 11:00: the
    shift before Monday's A is Saturday's B, of which nothing is stored."""
    cfg = load_config(PLANT)
    start, end = int(at("2026-11-21T22:00:00") * 1000), int(at("2026-11-23T11:00:00") * 1000)
    sink = ListSink()
    truth = run(cfg, sink, start, (end - start) / 1000).report
    store = SqliteStore(tmp_path_factory.mktemp("cards") / "s.db")
    recs = [validate(t, orjson.dumps(p), end, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    yield DashContext(store, cfg, TZ, CAL), truth, end
    store.close()


def test_no_change_is_shown_against_a_previous_shift_that_was_not_worked(weekend_then_monday):
    ctx, truth, end = weekend_then_monday
    data = overview(ctx, "current_shift", now_s=end / 1000)
    assert data.shifts is not None and data.shifts.before_name == "B"
    plant = data.report["plant"]
    # Shift A so far made the parts the simulator made (nothing before Monday 06:00).
    assert plant["good_count"] == truth["plant"]["good_count"] > 0
    for lang, words in (("en", "No comparison: the previous shift (B) was not worked"),
                        ("vi", "Không so sánh: ca trước (B) không làm việc")):  # fmt: skip
        for key in ("good", "oee"):
            card = cards.kpi_card(
                key, f"plant:{key}", plant, data, lambda r: r["plant"], DEFAULTS, TZ, lang
            )
            # Before: "▲ +980 vs shift B" on the good parts card, against B's zero.
            assert not _marked(card, "data-delta"), (key, lang)
            (note,) = _marked(card, "data-no-delta")
            assert note.children == words


def test_a_change_is_shown_against_a_previous_shift_that_was_worked(weekend_then_monday):
    ctx, _, end = weekend_then_monday
    # At Monday 14:30 shift B compares with Monday's A, which was worked.
    data = overview(ctx, "current_shift", now_s=end / 1000 + 3.5 * 3600)
    assert data.shifts is not None and data.shifts.before_name == "A"
    plant = data.report["plant"]
    card = cards.kpi_card(
        "good", "plant:good", plant, data, lambda r: r["plant"], DEFAULTS, TZ, "en"
    )
    assert _marked(card, "data-delta") and not _marked(card, "data-no-delta")
