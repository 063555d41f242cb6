"""SHOPFLOOR_NOW: a frozen or a ticking clock, and a clear error for a bad value."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from shopfloor import clock
from tests.support import PLANT, run_cli

MONDAY_10 = datetime.fromisoformat("2026-11-23T10:00:00+07:00").timestamp()


def test_unpinned_is_the_wall_clock(monkeypatch):
    monkeypatch.delenv(clock.ENV, raising=False)
    before = time.time()
    assert before <= clock.now_s() <= time.time()


def test_frozen(monkeypatch):
    monkeypatch.setenv(clock.ENV, "2026-11-23T10:00:00+07:00")
    assert clock.now_s() == MONDAY_10
    assert clock.now_ms() == int(MONDAY_10 * 1000)


def test_ticking_shares_one_clock_across_readers(monkeypatch):
    # Pinned 5 s ago (real time): it reads the pinned instant plus those 5 s, for anyone.
    monkeypatch.setenv(clock.ENV, f"2026-11-23T10:00:00+07:00@{time.time() - 5}")
    assert 5 <= clock.now_s() - MONDAY_10 < 6
    monkeypatch.setenv(clock.ENV, clock.ticking_from(MONDAY_10))
    assert 0 <= clock.now_s() - MONDAY_10 < 1
    assert clock.parse(clock.ticking_from(MONDAY_10)).at_s == MONDAY_10


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("monday", "not an ISO 8601 instant"),
        ("2026-11-23T10:00:00", "give the UTC offset"),
        ("2026-11-23T10:00:00+07:00@soon", "real epoch second"),
    ],
)
def test_bad_values_are_named(monkeypatch, value, says):
    with pytest.raises(clock.ClockError, match=says):
        clock.parse(value)
    monkeypatch.setenv(clock.ENV, value)
    got = run_cli("config", "check", str(PLANT))
    assert got.returncode == 1
    assert "SHOPFLOOR_NOW" in got.stderr and says in got.stderr
    assert "Traceback" not in got.stderr
