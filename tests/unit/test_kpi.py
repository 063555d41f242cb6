import math

import pytest

from shopfloor import kpi


def test_worked_example_from_the_oee_literature():
    # Planned 480 min, run 420 min, ideal cycle 60 s, 400 made, 380 good.
    r = kpi.oee(
        planned_s=480 * 60, run_s=420 * 60, ideal_cycle_s=60, total_count=400, good_count=380
    )
    assert r.availability == pytest.approx(0.875)
    assert round(r.performance * 100, 2) == 95.24
    assert r.quality == pytest.approx(0.95)
    assert round(r.oee * 100, 2) == 79.17
    # OEE is also good count x ideal cycle over planned time.
    assert r.oee == pytest.approx(380 * 60 / (480 * 60))


def test_vorne_style_example():
    # Shift 480 min with two 15 min breaks and a 30 min meal: planned 420 min; 47 min down;
    # ideal rate 60 parts/min (1 s cycle); 19,271 made, 423 rejects.
    r = kpi.oee(420 * 60, 373 * 60, 1.0, 19271, 19271 - 423)
    assert round(r.availability, 4) == 0.8881
    assert round(r.performance, 4) == 0.8611
    assert round(r.quality, 4) == 0.9780
    assert round(r.oee, 4) == 0.7479


@pytest.mark.parametrize(
    "args",
    [
        (0, 0, 60, 0, 0),  # nothing planned
        (3600, 0, 60, 0, 0),  # planned, never ran
        (3600, 1800, 60, 0, 0),  # ran, made nothing
        (0, 100, 60, 2, 2),  # data without a plan
    ],
)
def test_zero_denominators_give_finite_ratios(args):
    r = kpi.oee(*args)
    for v in r.as_dict().values():
        assert math.isfinite(v)
        assert v >= 0


def test_zero_denominators_are_zero_not_one():
    r = kpi.oee(3600, 0, 60, 0, 0)
    assert r.availability == 0.0
    assert r.performance == 0.0
    assert r.quality == 0.0
    assert r.oee == 0.0


def test_performance_above_one_is_not_hidden():
    r = kpi.oee(3600, 3600, 60, 70, 70)
    assert r.performance == pytest.approx(70 * 60 / 3600)
    assert r.performance > 1


def test_planned_time_excludes_off_and_planned_stops():
    durations = dict.fromkeys(kpi.STATES, 100.0)
    assert kpi.planned_s(durations) == 600.0


def test_weighted_ideal_cycle_rolls_up_performance():
    ict = kpi.weighted_ideal_cycle_s([(10.0, 100), (30.0, 300)])
    assert ict == pytest.approx((10 * 100 + 30 * 300) / 400)
    assert kpi.weighted_ideal_cycle_s([]) == 0.0


def test_energy_integrates_power_over_states():
    assert kpi.energy_kwh({"running": 3600, "idle": 1800}, {"running": 10, "idle": 2}) == 11.0
