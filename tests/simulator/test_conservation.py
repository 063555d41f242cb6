"""Books that must balance in every run of the demo plant."""

from pathlib import Path

import pytest

from shopfloor import kpi
from shopfloor.config import load_config

from .helpers import simulate

ROOT = Path(__file__).resolve().parents[2]
DURATION_S = 3 * 86400 + 5 * 3600 + 17.5  # ends mid-shift, mid-part


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(ROOT / "config" / "plant.yaml")
    return cfg, simulate(cfg, DURATION_S).report


def test_state_durations_sum_to_the_simulated_time(demo):
    _, report = demo
    for mid, m in report["machines"].items():
        total = sum(m[f"{s}_s"] for s in kpi.STATES)
        assert total == pytest.approx(DURATION_S, abs=1e-6), mid
        assert m["planned_s"] == pytest.approx(
            DURATION_S - m["off_s"] - m["planned_stop_s"], abs=1e-6
        )


def test_counts_balance(demo):
    cfg, report = demo
    ms = report["machines"]
    for line in cfg.lines:
        for i, st in enumerate(line.stations):
            m = ms[st.id]
            assert m["good_count"] + m["scrap_count"] == m["total_count"]
            assert m["total_count"] <= m["received_count"] <= m["total_count"] + 1
            if i > 0:
                up = line.stations[i - 1]
                # What a station took in, its upstream made good, less what waits in the buffer
                # (at most its capacity, plus one part held by a blocked upstream).
                waiting = ms[up.id]["good_count"] - m["received_count"]
                assert 0 <= waiting <= up.buffer + 1


def test_every_machine_did_something(demo):
    _, report = demo
    for mid, m in report["machines"].items():
        assert m["total_count"] > 100, mid
        assert 0 < m["oee"] < 1, mid


def test_energy_is_power_integrated_over_state_durations(demo):
    cfg, report = demo
    for _, st in cfg.stations():
        m = report["machines"][st.id]
        durations = {s: m[f"{s}_s"] for s in kpi.STATES}
        assert m["energy_kwh"] == pytest.approx(
            kpi.energy_kwh(durations, st.power_kw.by_state()), rel=1e-9
        )


def test_report_ratios_come_from_the_shared_kpi_function(demo):
    _, report = demo
    for entry in [report["plant"], *report["lines"].values(), *report["machines"].values()]:
        want = kpi.oee(
            entry["planned_s"],
            entry["running_s"],
            entry["ideal_cycle_s"],
            entry["total_count"],
            entry["good_count"],
        )
        assert entry["oee"] == want.oee
        assert entry["availability"] == want.availability
        for key in ("availability", "performance", "quality", "oee"):
            assert 0 <= entry[key] <= 1.0 + 1e-9


def test_lines_take_counts_from_the_last_station_and_energy_from_all(demo):
    cfg, report = demo
    for line in cfg.lines:
        lr = report["lines"][line.id]
        last = report["machines"][line.stations[-1].id]
        for key in (
            "total_count",
            "good_count",
            "scrap_count",
            "running_s",
            "oee",
            "ideal_cycle_s",
        ):
            assert lr[key] == last[key]
        assert lr["energy_kwh"] == pytest.approx(
            sum(report["machines"][s.id]["energy_kwh"] for s in line.stations)
        )
    plant = report["plant"]
    assert plant["good_count"] == sum(lr["good_count"] for lr in report["lines"].values())
    assert plant["energy_kwh"] == pytest.approx(
        sum(m["energy_kwh"] for m in report["machines"].values())
    )


def test_report_has_every_key_the_issue_lists(demo):
    _, report = demo
    keys = {
        "planned_s", "running_s", "idle_s", "starved_s", "blocked_s", "down_s", "setup_s", "planned_stop_s",
        "off_s", "total_count", "good_count", "scrap_count", "ideal_cycle_s", "energy_kwh",
        "availability", "performance", "quality", "oee",
    }  # fmt: skip
    for entry in [report["plant"], *report["lines"].values(), *report["machines"].values()]:
        assert keys <= set(entry)


def test_shifts_and_breaks_match_the_calendar(demo):
    _, report = demo
    # 2026-11-23 is a Monday; three full days Mon-Wed plus 05:00:17.5 of Thursday (before shift A).
    m = report["machines"]["cnc-01"]
    assert m["planned_stop_s"] == pytest.approx(3 * 3600)  # two 30 min breaks a day
    assert m["planned_s"] == pytest.approx(3 * 15 * 3600)
    assert m["off_s"] == pytest.approx(3 * 8 * 3600 + 5 * 3600 + 17.5)
