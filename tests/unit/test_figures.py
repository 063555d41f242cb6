"""Figure builders on a report made by a seeded simulation (the dashboard's pure half)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard import figures
from dashboard.i18n import LABELS, LANGS, t
from shopfloor.config import load_config
from simulator.run import run
from simulator.sinks import ListSink

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START_MS = 1_795_366_800_000


@pytest.fixture(scope="module")
def seeded():
    sink = ListSink()
    res = run(load_config(ROOT / "config" / "plant.yaml"), sink, START_MS, 86400)
    return res.report, sink.messages


def test_kpi_bars_show_the_ground_truth_in_percent(seeded):
    report, _ = seeded
    fig = figures.kpi_bars(report, "en")
    oee = next(tr for tr in fig.data if tr.name == "OEE")
    assert list(oee.x) == ["Plant", *report["lines"]]
    assert oee.y[0] == round(report["plant"]["oee"] * 100, 1)
    vi = figures.kpi_bars(report, "vi")
    assert {tr.name for tr in vi.data} == {"OEE", "Độ sẵn sàng", "Hiệu suất", "Chất lượng"}


def test_state_timeline_covers_the_range_once(seeded):
    report, messages = seeded
    changes = [
        (p["ts"], p["state"], p["reason"])
        for top, p, _ in messages
        if top.endswith("/cnc-01/state")
    ]
    t1 = START_MS + 86400 * 1000
    fig = figures.state_timeline(changes, START_MS, t1, TZ, "cnc-01")
    total_ms = sum(sum(tr.x) for tr in fig.data)
    assert total_ms == t1 - START_MS
    running = next(tr for tr in fig.data if tr.name == "Running")
    assert sum(running.x) / 1000 == pytest.approx(report["machines"]["cnc-01"]["running_s"], abs=1)
    down = next(tr for tr in fig.data if tr.name == "Down")
    assert all(isinstance(r, str) and r for r in down.customdata)  # reasons shown as hover text


def test_power_trace_and_time_by_state(seeded):
    report, messages = seeded
    samples = [
        (p["ts"], p["power_kw"]) for top, p, _ in messages if top.endswith("/cnc-01/telemetry")
    ]
    fig = figures.power_trace(samples, TZ)
    assert len(fig.data[0].y) == len(samples) > 8000
    bars = figures.time_by_state(report["machines"]["cnc-01"], "vi")
    assert "Đang chạy" in list(bars.data[0].x)
    assert sum(bars.data[0].y) == pytest.approx(24, abs=0.05)


def test_every_label_has_both_languages():
    for key, texts in LABELS.items():
        for lang in LANGS:
            assert texts.get(lang), (key, lang)
    assert t("no.such.key", "vi") == "no.such.key"


# --- Charts that stop misleading (issue 10) ---------------------------------------------------


def test_every_chart_has_a_title_and_time_axes_name_the_plant_zone(seeded):
    report, _ = seeded
    entry = report["machines"]["cnc-01"]
    t1 = START_MS + 86_400_000
    hours = [(START_MS + h * 3_600_000, entry) for h in range(24)]
    figs = {
        "kpi_bars": figures.kpi_bars(report, "vi"),
        "state_timeline": figures.state_timeline([], START_MS, t1, TZ, "cnc-01", "vi"),
        "power": figures.power_trace([(START_MS, 1.0)], TZ, "vi", START_MS, t1),
        "time_by_state": figures.time_by_state(entry, "vi"),
        "pareto": figures.pareto([("down", "tool_breakage", 1.0)], "vi"),
        "waterfall": figures.waterfall(entry, "vi"),
        "energy_bars": figures.energy_bars(report, "vi"),
        "energy_by_state": figures.energy_by_state({"running": 5.0, "idle": 1.0}, "vi"),
        "demand": figures.demand([(START_MS, 10.0)], TZ, "vi", START_MS, t1),
        "energy_by_shift": figures.energy_by_shift([("A", START_MS, report)], TZ, "vi"),
        "oee_by_hour": figures.oee_by_hour(hours, START_MS, t1, TZ, "vi"),
        "oee_by_shift": figures.oee_by_shift([("A", START_MS, entry)], TZ, "vi"),
    }
    for key, fig in figs.items():
        assert fig.layout.title.text == t(f"chart.{key}", "vi"), key
        assert fig.layout.separators == ",."  # 1.234,5 on a Vietnamese page
    for key in ("state_timeline", "power", "demand", "oee_by_hour"):
        # The zone as a reader names it (CLDR), not the IANA key with its underscores.
        assert figs[key].layout.xaxis.title.text == "Thời gian (Giờ Việt Nam)", key
    # Units on the value axes.
    assert figs["power"].layout.yaxis.title.text == "Công suất (kW)"
    assert figs["energy_bars"].layout.yaxis.title.text == "Điện năng (kWh)"
    assert figs["oee_by_hour"].layout.yaxis.title.text == "%"


def test_a_week_per_hour_is_readable_and_a_single_shift_is_bars(seeded):
    report, _ = seeded
    entry = report["machines"]["cnc-01"]
    t1 = START_MS + 7 * 86_400_000
    hours = [(START_MS + h * 3_600_000, entry) for h in range(168)]
    fig = figures.oee_by_hour(hours, START_MS, t1, TZ, "en")
    assert len(fig.data[0].x) == 168  # every hour drawn ...
    assert len(fig.layout.xaxis.tickvals) <= 8  # ... under at most 8 labels
    assert fig.layout.xaxis.ticktext[0] == "Mon 23/11"  # local midnight, Monday
    # A period with nothing planned is a gap, not a dip to 0%.
    off = {**entry, "planned_s": 0}
    gap = figures.oee_by_hour([(START_MS, off), (START_MS + 3_600_000, entry)], START_MS,
                              START_MS + 7_200_000, TZ, "en")  # fmt: skip
    assert gap.data[0].y[0] is None and gap.data[0].y[1] == round(entry["oee"] * 100, 1)
    one = figures.oee_by_shift([("A", START_MS + 6 * 3_600_000, entry)], TZ, "en")
    assert [tr.type for tr in one.data] == ["bar"] * 4
    assert list(one.data[0].x) == ["Mon 23/11 A"]
    assert one.data[0].y[0] == round(entry["oee"] * 100, 1)


def test_kwh_axes_never_go_negative_and_pie_labels_do_not_overlap(seeded):
    report, _ = seeded
    zero = {**report, "lines": {lid: {**e, "good_count": 0, "energy_kwh": 0.0}
                                for lid, e in report["lines"].items()}}  # fmt: skip
    for fig in (
        figures.energy_bars(zero, "en"),
        figures.energy_by_shift([("A", START_MS, report)], TZ, "en"),
    ):
        # Both axes from zero (figures.two_axes), with no tick below it.
        for axis in (fig.layout.yaxis, fig.layout.yaxis2):
            assert axis.range[0] == 0 and axis.range[1] > 0
            assert min(axis.tickvals) == 0
    pie = figures.energy_by_state({"running": 50.0, "idle": 0.4, "setup": 0.3, "down": 0.2})
    trace = pie.data[0]
    assert (trace.textposition, trace.textinfo) == ("inside", "percent")
    assert pie.layout.uniformtext.mode == "hide"  # a slice too small for its text shows none


def test_the_quarter_cut_by_the_range_end_is_drawn_apart():
    q = 900_000
    points = [(START_MS, 40.0), (START_MS + q, 44.0), (START_MS + 2 * q, 12.0)]
    t1 = START_MS + 2 * q + 300_000  # 5 of the third quarter's 15 minutes
    fig = figures.demand(points, TZ, "en", START_MS, t1)
    done, partial = fig.data
    assert list(done.y) == [40.0, 44.0]
    # 12 kW as a quarter's mean is 3 kWh; over the 5 minutes metered that is 36 kW so far.
    assert list(partial.y) == [36.0]
    assert partial.name == "Current quarter hour, so far (unfinished)"
    # A range ending on a quarter boundary has no partial quarter.
    assert len(figures.demand(points, TZ, "en", START_MS, START_MS + 3 * q).data) == 1


def test_the_pareto_share_axis_reads_in_whole_tens_beside_its_legend():
    """The cumulative share is read against 0, 20, ... 100 % (Plotly.js 3 would sync its ticks
    to the hours axis: 16.1, 32.2, ...), and the legend is above the plot, not over them."""
    items = [("down", "tool_breakage", 0.62), ("starved", "waiting", 0.48), ("setup", "x", 0.2)]
    for lang in LANGS:
        fig = figures.pareto(items, lang)
        share = fig.layout.yaxis2
        assert share.tickmode == "array" and list(share.tickvals) == [0, 20, 40, 60, 80, 100]
        assert share.range[1] >= 100  # the last point (100 %) is inside the axis
        assert fig.data[1].y[-1] == 100.0 and fig.data[1].yaxis == "y2"
        legend = fig.layout.legend
        assert legend.orientation == "h" and legend.y >= 1 and legend.yanchor == "bottom"
