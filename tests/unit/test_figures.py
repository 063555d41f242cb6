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
