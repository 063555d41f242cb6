"""The Machine page's SPC chart (issue 12, tool wear) from a real store: a simulated CNC
whose tool wears, written through the collector's validation into SQLite. The chart's points
are the running means of what the machine sent; it flags each tool's drift before the tool
change the simulator made (where scrap peaks), and says nothing about a steady value. Its
text is words in the page's language, never a snake_case name."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from collector.validate import validate
from dashboard.context import DashContext
from dashboard.spc_figures import imr_chart
from dashboard.spcdata import bucket_ms, default_value, spc_view, value_names
from shopfloor import spc
from shopfloor.config import parse_config
from shopfloor.contract import parse_topic
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 23, 0, 0, tzinfo=TZ)  # a Monday
START_MS = int(START.timestamp() * 1000)
HOURS = 30
RANGE = "custom|2026-11-23T00:00|2026-11-24T06:00"
N_PARTS = 400  # 5 h of 45 s parts per tool


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    cfg = parse_config(
        {
            "plant": {"enterprise": "acme", "site": "hcm"},
            "seed": 7,
            "lines": [
                {
                    "id": "l1",
                    "area": "a",
                    "stations": [
                        {
                            "id": "cnc-1",
                            "kind": "cnc",
                            "ideal_cycle_s": 45,
                            "scrap_rate": 0.01,
                            "power_kw": {"idle": 2.0, "running": 10.0},
                            "tool_wear": {
                                "value": "vibration_mm_s",
                                "drift": 1.5,
                                "change_every_parts": N_PARTS,
                                "change_min": 5,
                                "scrap_rate_worn": 0.3,
                            },
                        },
                        {
                            "id": "cnc-2",
                            "kind": "cnc",
                            "ideal_cycle_s": 40,
                            "power_kw": {"idle": 2.0, "running": 10.0},
                        },
                    ],
                }
            ],
        }
    )
    sink = ListSink()
    result = run(cfg, sink, START_MS, HOURS * 3600.0)
    end_ms = START_MS + HOURS * 3_600_000 + 1000
    store = SqliteStore(tmp_path_factory.mktemp("spc") / "s.db")
    recs = [validate(t, orjson.dumps(p), end_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    ctx = DashContext(store, cfg, TZ, ShiftCalendar(cfg.shifts, TZ))
    return ctx, sink.messages, result.report


def test_the_picker_offers_the_kinds_values_and_starts_on_the_worn_one(simulated):
    ctx, _, _ = simulated
    names = value_names(ctx, "cnc-1")
    assert names == ["spindle_temp_c", "vibration_mm_s"]
    assert default_value(ctx, "cnc-1", names) == "vibration_mm_s"
    assert default_value(ctx, "cnc-2", names) == "spindle_temp_c"


def test_points_are_the_running_means_of_what_the_machine_sent(simulated):
    ctx, messages, _ = simulated
    view = spc_view(ctx, "cnc-1", "vibration_mm_s", RANGE, now_s=START_MS / 1000 + 2 * 86400)
    assert view.chart is not None and view.error is None
    assert view.every_ms == bucket_ms(START_MS, START_MS + HOURS * 3_600_000) == 360_000
    # The same means from the simulator's own stream (state at each sample as it was sent).
    state, sums = None, {}
    for topic, p, _ in messages:
        parts = parse_topic(topic)
        if parts is None or parts.machine != "cnc-1":
            continue
        if parts.channel == "state":
            state = p["state"]
        elif parts.channel == "telemetry" and state == "running":
            acc = sums.setdefault(p["ts"] // view.every_ms * view.every_ms, [0.0, 0])
            acc[0] += p["vibration_mm_s"]
            acc[1] += 1
    want = [(b, s / n) for b, (s, n) in sorted(sums.items())]
    assert [b for b, _ in view.points] == [b for b, _ in want]
    assert [v for _, v in view.points] == pytest.approx([v for _, v in want], abs=1e-9)


def test_each_tools_drift_is_flagged_before_its_change(simulated):
    """Limits from the first tool's first hour; every later point that breaks a rule lies in
    a tool's worn part, and every tool change the simulator made was preceded by a flag in
    the second half of that tool's life (scrap climbs with the wear squared)."""
    ctx, messages, report = simulated
    changes = [
        p["ts"]
        for topic, p, _ in messages
        if topic.endswith("/cnc-1/state") and p["reason"] == "tool change"
    ]
    assert len(changes) == report["machines"]["cnc-1"]["maintenance"]["tool_changes"] >= 5
    view = spc_view(ctx, "cnc-1", "vibration_mm_s", RANGE, now_s=START_MS / 1000 + 2 * 86400)
    assert view.chart is not None
    flagged_at = [view.points[i][0] for i, f in enumerate(view.chart.flags) if f]
    life_ms = changes[1] - changes[0]
    prev = START_MS
    for change in changes:
        assert any(prev + life_ms / 3 <= ts < change for ts in flagged_at), (prev, change)
        prev = change


def test_a_steady_value_has_no_flags_from_wear(simulated):
    # The second CNC's tool does not wear: its vibration while running is steady, and what
    # the rules flag is the usual false alarm rate, a handful in 150 points.
    ctx, _, _ = simulated
    view = spc_view(ctx, "cnc-2", "vibration_mm_s", RANGE, now_s=START_MS / 1000 + 2 * 86400)
    assert view.chart is not None
    late = view.chart.flags[view.chart.baseline :]
    assert sum(1 for f in late if f) < 0.1 * len(late)


@pytest.mark.parametrize(
    ("lang", "title"),
    [("en", "vibration (mm/s)"), ("vi", "độ rung (mm/s)")],
)
def test_the_figure_speaks_the_pages_language(simulated, lang, title):
    ctx, _, _ = simulated
    view = spc_view(ctx, "cnc-1", "vibration_mm_s", RANGE, now_s=START_MS / 1000 + 2 * 86400)
    assert view.chart is not None
    fig = imr_chart(view.points, view.chart, view.name, TZ, lang, view.t0_ms, view.t1_ms)
    assert title in fig.layout.title.text
    flagged = [i for i, f in enumerate(view.chart.flags) if f]
    assert len(fig.data[1].x) == len(flagged) > 0
    text = orjson.dumps(fig.to_plotly_json()).decode()
    assert "vibration_mm_s" not in text
    labels = [fig.layout.title.text, *(a.text for a in fig.layout.annotations)]
    labels += [tr.name for tr in fig.data] + list(fig.data[1].customdata)
    for label in labels:
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", label), label
    if lang == "vi":
        assert any("Quy tắc" in c for c in fig.data[1].customdata)
        # Vietnamese decimals: a comma, never a point, in the limits' labels.
        assert all(re.search(r"\d,\d", a.text) for a in fig.layout.annotations)
    else:
        assert any("Rule" in c for c in fig.data[1].customdata)
    assert spc.default_baseline(len(view.points)) == view.chart.baseline
