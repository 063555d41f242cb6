"""The I-MR chart and the Western Electric rules on sequences worked out by hand."""

from __future__ import annotations

import pytest

from shopfloor import spc


def rules(values: list[float]) -> list[tuple[int, ...]]:
    return spc.western_electric(values, center=0.0, sigma=1.0)


def test_rule_1_one_point_beyond_three_sigma_either_side():
    assert rules([0.0, 3.2, -0.5, -3.01, 2.99]) == [(), (1,), (), (1,), ()]


def test_rule_2_two_of_three_beyond_two_sigma_same_side():
    # The second point beyond 2 sigma completes the pattern; one in between does not break it.
    assert rules([2.5, 0.0, 2.1]) == [(), (), (2,)]
    assert rules([2.5, 2.1]) == [(), (2,)]
    # Opposite sides never pair up, nor do points three apart.
    assert rules([2.5, -2.5, 0.0]) == [(), (), ()]
    assert rules([-2.5, 0.0, 0.0, -2.5]) == [(), (), (), ()]
    assert rules([-2.5, -0.1, -2.6]) == [(), (), (2,)]


def test_rule_3_four_of_five_beyond_one_sigma_same_side():
    assert rules([1.5, 1.5, 0.0, 1.5, 1.5]) == [(), (), (), (), (3,)]
    assert rules([1.5, 1.5, 0.0, 0.0, 1.5, 1.5]) == [()] * 6
    assert rules([-1.2, -1.2, -1.2, -1.2]) == [(), (), (), (3,)]


def test_rule_4_eight_in_a_row_on_one_side():
    got = rules([0.5] * 9)
    assert got[:7] == [()] * 7
    assert got[7] == (4,) and got[8] == (4,)
    # A point on the centre line (or across it) breaks the run.
    assert rules([0.5] * 7 + [0.0] + [0.5] * 7) == [()] * 15
    assert rules([-0.4] * 8)[-1] == (4,)


def test_several_rules_at_one_point():
    # 3.5 is beyond 3 sigma (1), the second beyond 2 sigma of three (2), the fourth beyond 1
    # sigma of five (3); before it only three of four were beyond 1 sigma.
    assert rules([0.0, 1.5, 2.5, 1.5, 3.5]) == [(), (), (), (), (1, 2, 3)]


def test_limits_from_the_mean_moving_range():
    lim = spc.limits([1.0, 2.0, 3.0, 4.0, 5.0])
    assert lim.center == 3.0
    assert lim.mr_bar == 1.0
    assert lim.sigma == pytest.approx(1.0 / 1.128)
    assert lim.ucl == pytest.approx(3.0 + 3.0 / 1.128)
    assert lim.lcl == pytest.approx(3.0 - 3.0 / 1.128)
    assert lim.mr_ucl == pytest.approx(3.267)
    with pytest.raises(ValueError, match="at least 2"):
        spc.limits([1.0])


def test_imr_takes_limits_from_the_baseline_and_flags_a_shift():
    # Alternating 10/11 (MR-bar 1, sigma 0.887), then a shift of +2 after the baseline:
    # the shifted points are beyond 2 sigma but inside 3, so rule 2 fires at the second.
    base = [10.0, 11.0] * 10
    chart = spc.imr([*base, 12.6, 12.6, 12.6], baseline=20)
    assert chart.baseline == 20
    assert chart.limits.center == 10.5
    assert chart.moving_ranges[0] is None and chart.moving_ranges[1] == 1.0
    assert chart.flags[:21] == [()] * 21
    assert 2 in chart.flags[21]
    assert chart.first_flag() == 21
    assert chart.first_flag(start=22) == 22
    assert spc.imr(base, baseline=20).first_flag() is None
    # The jump 11 -> 12.6 is a moving range of 1.6, below D4 * MR-bar = 3.267.
    assert not any(chart.mr_flags)
    jump = spc.imr([*base, 15.0], baseline=20)
    assert jump.mr_flags[-1] and jump.flags[-1] == (1,)


def test_flat_baseline_flags_any_departure():
    chart = spc.imr([5.0] * 10 + [5.1], baseline=10)
    assert chart.limits.sigma == 0.0
    assert chart.first_flag() == 10


def test_default_baseline():
    assert spc.default_baseline(10) == 10
    assert spc.default_baseline(40) == 20
    assert spc.default_baseline(400) == 20
