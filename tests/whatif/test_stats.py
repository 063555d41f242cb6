"""t quantiles against published tables, and intervals worked by hand."""

from __future__ import annotations

import math

import pytest

from shopfloor.stats import mean_ci, t_cdf, t_quantile, variance

# Two-sided 95 % and 99 % critical values, from the NIST/SEMATECH e-Handbook of Statistical
# Methods, table 1.3.6.7.2 (upper critical values of Student's t), to its three decimals.
TABLE_975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    9: 2.262,
    10: 2.228,
    19: 2.093,
    29: 2.045,
    100: 1.984,
}
TABLE_995 = {1: 63.657, 5: 4.032, 9: 3.250, 30: 2.750, 100: 2.626}


@pytest.mark.parametrize(("df", "expected"), sorted(TABLE_975.items()))
def test_t_975_matches_the_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=6e-4)


@pytest.mark.parametrize(("df", "expected"), sorted(TABLE_995.items()))
def test_t_995_matches_the_table(df, expected):
    assert t_quantile(0.995, df) == pytest.approx(expected, abs=6e-4)


def test_t_quantile_inverts_the_cdf_and_is_symmetric():
    for df in (1, 3, 7, 50):
        for p in (0.6, 0.9, 0.99):
            assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)
            assert t_quantile(1 - p, df) == pytest.approx(-t_quantile(p, df), abs=1e-12)


def test_large_df_tends_to_the_normal_quantile():
    assert t_quantile(0.975, 1_000_000) == pytest.approx(1.959964, abs=1e-5)


def test_cauchy_cdf_in_closed_form():
    # t with 1 degree of freedom is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi.
    for t in (-3.0, -0.5, 0.2, 1.0, 10.0):
        assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)


def test_mean_ci_by_hand():
    values = [10.0, 12.0, 11.0, 13.0, 9.0]  # mean 11, sample sd sqrt(2.5)
    iv = mean_ci(values)
    half = 2.776445105 * math.sqrt(2.5 / 5)
    assert iv.mean == 11.0
    assert iv.low == pytest.approx(11 - half, abs=1e-8)
    assert iv.high == pytest.approx(11 + half, abs=1e-8)
    assert iv.excludes_zero()
    assert variance(values) == pytest.approx(2.5)


def test_intervals_need_two_values():
    assert mean_ci([3.0]).low is None
    assert not mean_ci([3.0]).excludes_zero()
    assert mean_ci([]).n == 0
    zero = mean_ci([0.0, 0.0, 0.0])
    assert (zero.low, zero.high) == (0.0, 0.0) and not zero.excludes_zero()
