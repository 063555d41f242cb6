"""The model against queueing and reliability theory, not just 'it runs'."""

import pytest

from shopfloor import kpi
from shopfloor.config import parse_config

from .helpers import RARE_SAMPLES, plant, simulate, station


def test_single_station_availability_matches_mtbf_mttr():
    # A lone station never starves (unlimited source) nor blocks (last station).
    mtbf, mttr = 240.0, 40.0
    cfg = plant([station("m", ideal_cycle_s=600, mtbf_min=mtbf, mttr_min=mttr)])
    res = simulate(cfg, 5000 * (mtbf + mttr) * 60)
    m = res.report["machines"]["m"]
    assert m["failures"] > 4000
    assert m["starved_s"] == 0 and m["blocked_s"] == 0
    expected = mtbf / (mtbf + mttr)
    assert m["availability"] == pytest.approx(expected, abs=0.015)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_availability_holds_for_other_seeds(seed):
    cfg = plant([station("m", ideal_cycle_s=120, mtbf_min=60, mttr_min=15)])
    m = simulate(cfg, 4000 * 75 * 60, seed=seed).report["machines"]["m"]
    assert m["availability"] == pytest.approx(0.8, abs=0.015)


def _line(cv: float, buffer: int):
    cycles = [40, 55, 60, 45, 50]  # the bottleneck is the third station: 60 s
    return plant(
        [
            station(f"s{i}", ideal_cycle_s=c, cycle_s={"mean": c, "cv": cv}, buffer=buffer)
            for i, c in enumerate(cycles)
        ]
    )


def test_deterministic_serial_line_runs_at_the_bottleneck_rate():
    duration = 7 * 86400
    res = simulate(_line(0.0, 5), duration)
    out = res.report["lines"]["l1"]["total_count"]
    assert out == pytest.approx(duration / 60, rel=0.01)
    # The bottleneck never starves after the first part and never blocks.
    bn = res.report["machines"]["s2"]
    assert bn["blocked_s"] == 0
    assert bn["running_s"] / duration > 0.99


def test_variable_serial_line_runs_at_the_bottleneck_rate():
    duration = 14 * 86400
    res = simulate(_line(0.05, 10), duration)
    throughput = res.report["lines"]["l1"]["total_count"] / duration
    assert throughput == pytest.approx(1 / 60, rel=0.01)


def test_upstream_of_the_bottleneck_blocks_and_downstream_starves():
    res = simulate(_line(0.0, 5), 86400)
    ms = res.report["machines"]
    assert ms["s0"]["blocked_s"] > 0.2 * 86400  # 40 s feeding a 55 s and a 60 s station
    assert ms["s4"]["starved_s"] > 0.1 * 86400  # 50 s after a 60 s bottleneck


@pytest.mark.slow
def test_failures_accrue_over_running_time_only():
    # A fast station behind a slow one runs 1/6 of the time; failures count running time,
    # so it fails about 6x less often per wall hour than a station that runs all the time.
    cfg = plant(
        [
            station("slow", ideal_cycle_s=600),
            station("fast", ideal_cycle_s=100, mtbf_min=300, mttr_min=1),
        ]
    )
    duration = 100_000 * 3600
    ms = simulate(cfg, duration).report["machines"]
    fast = ms["fast"]
    assert fast["failures"] > 3000
    rate_per_running_h = fast["failures"] / (fast["running_s"] / 3600)
    assert rate_per_running_h == pytest.approx(60 / 300, rel=0.06)
    assert fast["failures"] < duration / 3600 / 300 * 60 / 4


def test_cycle_time_draws_have_the_configured_mean():
    cfg = plant([station("m", ideal_cycle_s=50, cycle_s={"mean": 55, "cv": 0.3})])
    m = simulate(cfg, 30 * 86400).report["machines"]["m"]
    assert m["running_s"] / m["total_count"] == pytest.approx(55, rel=0.01)
    assert m["performance"] == pytest.approx(50 / 55, rel=0.01)


def test_scrap_rate_is_respected():
    cfg = plant([station("m", ideal_cycle_s=10, scrap_rate=0.1)])
    m = simulate(cfg, 10 * 86400).report["machines"]["m"]
    assert m["quality"] == pytest.approx(0.9, abs=0.005)
    assert m["oee"] == pytest.approx(
        kpi.oee(m["planned_s"], m["running_s"], 10, m["total_count"], m["good_count"]).oee
    )


def test_changeovers_happen_once_per_order_at_every_station_with_a_setup():
    cfg = parse_config(
        {
            "plant": {"enterprise": "acme", "site": "hcm"},
            "telemetry": RARE_SAMPLES,
            "lines": [
                {
                    "id": "l1",
                    "area": "a",
                    "batch_size": 100,
                    "stations": [
                        station("a", ideal_cycle_s=30, setup_min=10, buffer=3),
                        station("b", ideal_cycle_s=30, setup_min=5),
                    ],
                }
            ],
        }
    )
    res = simulate(cfg, 86400)
    ms = res.report["machines"]
    orders = ms["a"]["received_count"] // 100
    assert ms["a"]["setup_s"] == pytest.approx(
        (orders - (ms["a"]["received_count"] % 100 == 0)) * 600, abs=600
    )
    assert ms["a"]["setup_s"] > 0 and ms["b"]["setup_s"] > 0
    assert ms["b"]["setup_s"] == pytest.approx(ms["a"]["setup_s"] / 2, abs=300)
