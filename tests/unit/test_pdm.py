"""Scoring a predictive-maintenance model's alarms against precursor windows, by hand."""

from __future__ import annotations

import pytest

from shopfloor.pdm import score

FAILURES = [
    {"start_ms": 10_000, "precursor_start_ms": 4_000},
    {"start_ms": 30_000, "precursor_start_ms": None},  # no precursor: nothing to foresee
    {"start_ms": 50_000, "precursor_start_ms": 44_000},
    {"start_ms": 90_000, "precursor_start_ms": 80_000},
]


def test_alarms_inside_windows_warn_and_the_rest_are_false():
    # 5000 and 9000 warn of the first (lead from 5000: 5 s); 29000 is false (no precursor);
    # 50000 is at the failure (too late); 81000 warns of the last (lead 9 s).
    s = score([9_000, 5_000, 29_000, 50_000, 81_000], FAILURES)
    assert (s.failures, s.warned, s.alarms, s.true_alarms) == (3, 2, 5, 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.precision == pytest.approx(3 / 5)
    assert s.mean_lead_s == pytest.approx((5.0 + 9.0) / 2)


def test_no_alarms_and_no_failures():
    s = score([], FAILURES)
    assert s.recall == 0.0 and s.precision == 0.0 and s.mean_lead_s is None
    assert score([1_000], []).failures == 0


def test_an_alarm_in_a_drift_cut_short_by_maintenance_is_true_but_not_a_warning():
    drifts = [
        {"start_ms": 4_000, "end_ms": 10_000, "reason": "x", "ended": "failure"},
        {"start_ms": 20_000, "end_ms": 26_000, "reason": "x", "ended": "maintenance"},
        {"start_ms": 60_000, "end_ms": 62_000, "reason": "x", "ended": "run end"},
    ]
    # 21000 and 26000 (the instant of the cut: still drifting) saw the drift maintenance
    # cut (true); 27000 is after it (false); 61000 saw the drift still under way at the end;
    # 5000 warns of the first failure.
    s = score([5_000, 21_000, 26_000, 27_000, 61_000], FAILURES, drifts)
    assert (s.failures, s.warned, s.alarms, s.true_alarms) == (3, 1, 5, 4)
    assert (s.cut_drifts, s.cut_warned) == (2, 2)
    assert s.precision == pytest.approx(4 / 5)
    assert s.recall == pytest.approx(1 / 3)  # a cut drift is no failure to warn of
    # Without the drifts, the same alarms in them are false.
    assert score([5_000, 21_000, 26_000, 27_000, 61_000], FAILURES).true_alarms == 1
