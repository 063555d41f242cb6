"""Starvation by cause (issue 12): the grouping of loss reasons and its chart, in English and
Vietnamese."""

from __future__ import annotations

import pytest

from dashboard import supply_figures
from shopfloor.supply import by_cause, cause_of
from shopfloor.words import reason

LOSSES = {
    ("starved", "waiting for cnc-01"): 1800.0,
    ("starved", "waiting for cnc-02"): 600.0,
    ("starved", "no material: steel"): 3600.0,
    ("starved", "no material: paint"): 900.0,
    ("idle", "no order"): 7200.0,
    ("idle", ""): 50.0,  # idle for no stated reason: not a wait for work of these causes
    ("down", "tool_breakage"): 999.0,
    ("blocked", "output buffer full"): 300.0,
    ("planned_stop", "break"): 1800.0,
    ("starved", "no material: zero"): 0.0,
}


def test_causes_of_reasons():
    assert cause_of("starved", "waiting for press-01") == ("upstream", "")
    assert cause_of("starved", "no material: steel-bar") == ("no_material", "steel-bar")
    assert cause_of("idle", "no order") == ("no_order", "")
    assert cause_of("down", "no material: steel") is None
    assert cause_of("blocked", "output buffer full") is None
    # A first station's old wording for an unlimited source never waited: not upstream.
    assert cause_of("starved", "waiting for material") is None


def test_by_cause_sums_in_a_fixed_order():
    got = by_cause(LOSSES)
    assert list(got) == [
        ("upstream", ""),
        ("no_material", "paint"),
        ("no_material", "steel"),
        ("no_order", ""),
    ]
    assert got[("upstream", "")] == 2400.0
    assert got[("no_material", "steel")] == 3600.0
    assert got[("no_order", "")] == 7200.0
    # Triples (the Losses page's Pareto rows) give the same.
    assert by_cause((s, r, v) for (s, r), v in LOSSES.items()) == got


@pytest.mark.parametrize(
    ("lang", "labels", "title"),
    [
        (
            "en",
            ["Upstream station", "No material: paint", "No material: steel", "No order"],
            "Starvation by cause",
        ),
        (
            "vi",
            ["Trạm phía trước", "Hết nguyên liệu: paint", "Hết nguyên liệu: steel", "Không có đơn hàng"],
            "Thiếu phôi theo nguyên nhân",
        ),
    ],
)  # fmt: skip
def test_the_chart_has_one_bar_per_cause_in_hours(lang, labels, title):
    causes = {k: v / 3600 for k, v in by_cause(LOSSES).items()}
    fig = supply_figures.starvation(causes, lang)
    bar = fig.data[0]
    assert list(bar.x) == labels
    assert list(bar.y) == [0.67, 0.25, 1.0, 2.0]
    assert fig.layout.title.text.startswith(title)
    if lang == "vi":
        assert bar.customdata[0] == "0,67"  # Vietnamese decimal comma


def test_an_empty_range_says_so():
    fig = supply_figures.starvation({}, "vi")
    assert fig.layout.annotations[0].text.startswith("Không có máy nào")


def test_the_reason_in_words():
    assert reason("no material: steel", "en") == "no material: steel"
    assert reason("no material: steel", "vi") == "hết nguyên liệu: steel"
