"""What the pages say instead of misleading charts (issue 10), through their real callbacks on a
store filled by a seeded simulation, at pinned clocks (SHOPFLOOR_NOW):

- Sunday 23:30 (no shift on Sundays): "no planned production in this range", naming when the
  next shift starts, as the plant's calendar and the simulator's ground truth say;
- which shift "current shift" shows, ended or under way;
- a custom range without dates: one message, every chart hidden;
- the quarter hour under way drawn apart from whole ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from collector.validate import validate
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import SUNDAY_2330, instant_s

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "config" / "plant.yaml"
SAT_2000 = int(instant_s("2026-11-21T20:00:00+07:00") * 1000)
MON_0600 = int(instant_s("2026-11-23T06:00:00+07:00") * 1000)
MON_1107 = "2026-11-23T11:07:00+07:00"
END_MS = int(instant_s(MON_1107) * 1000)
HIDDEN = {"display": "none"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    cfg = load_config(PLANT)
    sink = ListSink()
    run(cfg, sink, SAT_2000, (END_MS - SAT_2000) / 1000)
    store = SqliteStore(tmp_path_factory.mktemp("msgs") / "s.db")
    records = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in records if isinstance(r, Record)])
    from dashboard.app import create_app

    create_app(store, cfg, auth="plant:secret")
    return cfg, store


def page(name: str):
    return sys.modules[f"pages.{name}"]


def lines(message) -> list[str]:
    return [p.children for p in message] if message else []


def test_sunday_night_says_no_planned_production_and_when_the_next_shift_starts(
    seeded, monkeypatch
):
    from dashboard.context import context
    from dashboard.data import overview

    cfg, _ = seeded
    monkeypatch.setenv("SHOPFLOOR_NOW", SUNDAY_2330)
    now_ms = int(instant_s(SUNDAY_2330) * 1000)
    # The ground truth: the simulator plans nothing in that hour (no shift on Sundays).
    truth = run(cfg, ListSink(), now_ms - 3_600_000, 3600).report
    assert truth["plant"]["planned_s"] == 0
    data = overview(context(), "last_hour")
    assert data.notice is not None and data.notice.key == "notice.no_planned_next"
    # The config's next shift: A, Monday 06:00 plant time.
    assert data.notice.args == {"name": "A", "start_ms": MON_0600}
    want = (
        "No planned production in this range (outside shift hours). "
        "The next shift, A, starts Mon 23/11/2026 06:00."
    )
    # Machine: no OEE charts of 0.0%, the states and power still drawn (they say "off").
    out = page("machine").refresh(1, "cnc-01", "last_hour", "en")
    assert lines(out[9]) == [want]
    assert out[10] == {} and out[11] == HIDDEN
    assert {tr.name for tr in out[5].data} == {"Off"}
    # Losses: the message alone.
    *_, message, style = page("losses").refresh(1, "last_hour", "en")
    assert lines(message) == [want] and style == HIDDEN
    # Energy: machines draw power off shift, so its charts stay under the message.
    *_, message, style = page("energy").refresh(1, "today", "en")
    assert lines(message) == [want] and style == {}
    # In Vietnamese, with the plant's local date and time.
    vi = lines(page("losses").refresh(1, "last_hour", "vi")[4])
    assert vi == [
        "Không có thời gian sản xuất theo kế hoạch trong khoảng này (ngoài giờ ca). "
        "Ca tiếp theo, ca A, bắt đầu lúc Thứ 2 23/11/2026 06:00."
    ]


def test_current_shift_says_which_shift_it_shows(seeded, monkeypatch):
    from dashboard.context import context
    from dashboard.data import overview

    monkeypatch.setenv("SHOPFLOOR_NOW", SUNDAY_2330)
    # Sunday night: the last shift worked is Saturday's B (14:00-22:00), and it has ended.
    shown = overview(context(), "current_shift").shown
    assert (shown.name, shown.ended, shown.next_name) == ("B", True, "A")
    assert shown.start_ms == int(instant_s("2026-11-21T14:00:00+07:00") * 1000)
    assert shown.end_ms == int(instant_s("2026-11-21T22:00:00+07:00") * 1000)
    assert shown.next_start_ms == MON_0600
    out = page("machine").refresh(1, "cnc-01", "current_shift", "en")
    assert lines(out[9]) == [
        "No shift is under way: showing the last one, shift B, Sat 21/11/2026 14:00 to 22:00. "
        "The next shift, A, starts Mon 23/11/2026 06:00."
    ]
    assert out[10] == {} and out[11] == {}  # a worked shift: every chart
    # Monday 11:07: shift A is under way (its meal break is part of it).
    monkeypatch.setenv("SHOPFLOOR_NOW", MON_1107)
    assert overview(context(), "current_shift").shown.ended is False
    *_, message, style = page("losses").refresh(1, "current_shift", "en")
    assert lines(message) == ["Current shift: A, Mon 23/11/2026 06:00 to 14:00 (under way)."]
    assert style == {}
    assert lines(page("losses").refresh(1, "current_shift", "vi")[4]) == [
        "Ca hiện tại: ca A, Thứ 2 23/11/2026 06:00 đến 14:00 (đang diễn ra)."
    ]


@pytest.mark.parametrize(
    ("start", "end", "want"),
    [
        (None, None, "Custom range: set its start (plant time, Asia/Ho_Chi_Minh)."),
        ("2026-11-23T06:00", None, "Custom range: set its end (plant time, Asia/Ho_Chi_Minh)."),
        ("2026-11-23T08:00", "2026-11-23T07:00", "Custom range: the end must be after the start."),
        ("soon", "later", "Custom range: soon is not a date and time."),
    ],
)
def test_a_custom_range_that_cannot_be_read_is_one_message_and_no_charts(
    seeded, monkeypatch, start, end, want
):
    monkeypatch.setenv("SHOPFLOOR_NOW", MON_1107)
    out = page("machine").refresh(1, "cnc-01", "custom", "en", start, end)
    assert lines(out[9]) == [want] and out[10] == HIDDEN
    *_, message, style = page("losses").refresh(1, "custom", "en", start, end)
    assert lines(message) == [want] and style == HIDDEN
    *_, message, style = page("energy").refresh(1, "custom", "en", start, end)
    assert lines(message) == [want] and style == HIDDEN
    vi = lines(page("energy").refresh(1, "custom", "vi", start, end)[6])
    assert len(vi) == 1 and vi[0].startswith("Khoảng tùy chọn:")


def test_the_quarter_under_way_is_drawn_apart_at_its_mean_so_far(seeded, monkeypatch):
    cfg, _ = seeded
    monkeypatch.setenv("SHOPFLOOR_NOW", MON_1107)
    demand = page("energy").refresh(1, "last_hour", "en")[2]
    done, partial = demand.data
    assert partial.name == "Current quarter hour, so far (unfinished)"
    assert partial.marker.pattern.shape == "/"
    # The 11:00 quarter is only in the hatched trace, at its middle; whole quarters end by 11:00.
    assert list(partial.x) == ["2026-11-23T11:07:30+07:00"]
    assert all(x < "2026-11-23T11:00" for x in done.x)
    # Its height is the mean kW of 11:00-11:07 (the simulator's metered energy between the
    # two instants, over 7 minutes), not a quarter's worth of kWh x 4 (a low bar).
    kwh = {
        h: run(cfg, ListSink(), SAT_2000, (t - SAT_2000) / 1000).report["plant"]["energy_kwh"]
        for h, t in (("11:00", END_MS - 420_000), ("11:07", END_MS))
    }
    want_kw = (kwh["11:07"] - kwh["11:00"]) / (7 / 60)
    # Meters read every minute: the store holds about 6 of the 7 minutes.
    assert partial.y[0] == pytest.approx(want_kw, rel=0.25)
    # The old bar (kWh so far x 4) was at most the truth's 7 minutes x 4: far below.
    assert partial.y[0] > 1.5 * (kwh["11:07"] - kwh["11:00"]) * 4
