"""The hour rollup against a replay of the raw changes, for any order the writes come in."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shopfloor.kpi import STATES
from shopfloor.store.base import Record
from shopfloor.store.report import (
    durations_from_changes,
    loss_durations,
    losses_from_changes,
    state_durations,
)
from shopfloor.store.rollup import HOUR_MS, Hour, spread
from shopfloor.store.sqlite import SqliteStore


def test_spread_splits_an_interval_at_hour_boundaries():
    out: dict[int, Hour] = {}
    spread(out, "down", "tool_breakage", HOUR_MS - 1000, 2 * HOUR_MS + 500)
    assert out[0].states["down"] == 1.0
    assert out[HOUR_MS].states["down"] == 3600.0
    assert out[2 * HOUR_MS].states["down"] == 0.5
    assert out[HOUR_MS].losses == {("down", "tool_breakage"): 3600.0}
    spread(out, "running", "", 0, 10)
    assert out[0].losses == {("down", "tool_breakage"): 1.0}  # running is no loss


def scrambled(recs: list[Record], batch: int, shuffle: random.Random) -> list[list[Record]]:
    """Batches mostly in order, one pair swapped (a late batch) and one sent twice."""
    batches = [recs[i : i + batch] for i in range(0, len(recs), batch)]
    if len(batches) > 2:
        i = shuffle.randrange(len(batches) - 1)
        batches[i], batches[i + 1] = batches[i + 1], batches[i]
        batches.append(batches[shuffle.randrange(len(batches))])
    return batches


changes = st.lists(
    st.tuples(
        st.integers(0, 6 * HOUR_MS),
        st.sampled_from(["running", "down", "blocked", "off"]),
        st.sampled_from(["", "jam", "waiting for m0"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    changes=changes,
    batch=st.integers(1, 10),
    shuffle=st.randoms(use_true_random=False),
    window=st.tuples(st.integers(0, 7 * HOUR_MS), st.integers(1, 7 * HOUR_MS)),
)
def test_any_write_order_gives_the_durations_of_a_replay(changes, batch, shuffle, window):
    recs = [
        Record("e", "s", "a", "l", "m", "state", ts, seq, {"state": state, "reason": reason})
        for seq, (ts, state, reason) in enumerate(changes, start=1)
    ]
    batches = scrambled(recs, batch, shuffle)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "s.db")
        for b in batches:
            store.write(b)
        t0 = window[0]
        t1 = t0 + window[1]
        end = min(t1, max(c[0] for c in changes) + 1)
        raw = store.states(t0, t1).get("m", [])
        want = durations_from_changes(raw, t0, end)
        got = state_durations(store, t0, t1, {"m": end})["m"]
        assert got == pytest.approx(want, abs=1e-6)
        want_losses: dict = {}
        losses_from_changes(raw, t0, end, want_losses)
        got_losses = {
            k: v for k, v in loss_durations(store, t0, t1, {"m": end}).items() if v > 1e-9
        }
        assert got_losses == pytest.approx(
            {k: v for k, v in want_losses.items() if v > 1e-9}, abs=1e-6
        )
        # A fresh writer (a restarted collector) keeps the rollup right as well.
        again = SqliteStore(Path(tmp) / "s.db")
        more = Record(
            "e", "s", "a", "l", "m", "state", 8 * HOUR_MS, 999, {"state": "idle", "reason": ""}
        )
        again.write([more])
        want = durations_from_changes(again.states(0, 9 * HOUR_MS)["m"], 0, 9 * HOUR_MS)
        got = state_durations(again, 0, 9 * HOUR_MS, {"m": 9 * HOUR_MS})["m"]
        assert got == pytest.approx(want, abs=1e-6)
        assert set(got) == set(STATES)
        store.close()
        again.close()


def test_a_file_from_before_the_rollup_gets_it_built_on_open(tmp_path):
    import sqlite3

    recs = [
        Record("e", "s", "a", "l", "m", "state", ts, i, {"state": st, "reason": r})
        for i, (ts, st, r) in enumerate(
            [
                (0, "running", ""),
                (HOUR_MS // 2, "down", "jam"),
                (3 * HOUR_MS, "running", ""),
                (5 * HOUR_MS, "off", ""),
            ],
            start=1,
        )
    ]
    store = SqliteStore(tmp_path / "s.db")
    store.write(recs)
    store.close()
    con = sqlite3.connect(tmp_path / "s.db")
    con.executescript("DELETE FROM state_hours; DELETE FROM loss_hours; PRAGMA user_version = 0;")
    con.close()
    again = SqliteStore(tmp_path / "s.db")
    assert again.state_hours(0, 6 * HOUR_MS)["m"]["down"] == pytest.approx(2.5 * 3600)
    assert again.loss_hours(0, 6 * HOUR_MS) == pytest.approx({("down", "jam"): 2.5 * 3600})
    again.close()


readings = st.lists(
    st.tuples(st.integers(0, 3 * HOUR_MS), st.floats(0, 100, allow_nan=False)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    readings=readings,
    batch=st.integers(1, 10),
    shuffle=st.randoms(use_true_random=False),
    window=st.tuples(st.integers(0, 3 * HOUR_MS), st.integers(1, 3 * HOUR_MS)),
)
# Two readings of a machine's first quarter: both paths count the first from 0.
@example(readings=[(0, 0.0), (0, 1.0)], batch=1, shuffle=random.Random(0), window=(0, 900_000))
# A reset inside a quarter: both take the quarter's newest reading.
@example(
    readings=[(0, 1.0), (0, 0.0), (0, 1.0)], batch=2, shuffle=random.Random(1), window=(0, 900_000)
)
def test_metered_quarters_equal_the_readings_for_any_write_order(readings, batch, shuffle, window):
    from shopfloor.store.report import energy_by_quarter, quarters_from_readings

    # A cumulative meter (sorted values), with a reset in the middle sometimes (unsorted).
    values = sorted(v for _, v in readings) if shuffle.random() < 0.7 else [v for _, v in readings]
    recs = [
        Record("e", "s", "a", "l", "m", "energy", ts, seq, {"energy_kwh": v})
        for seq, ((ts, _), v) in enumerate(zip(sorted(readings), values, strict=True), start=1)
    ]
    batches = scrambled(recs, batch, shuffle)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "s.db")
        for b in batches:
            store.write(b)
        t0, t1 = window[0], window[0] + window[1]
        want = quarters_from_readings(store, t0, t1).get("m", {})
        got = energy_by_quarter(store, t0, t1).get("m", {})
        nonzero = lambda d: {k: v for k, v in d.items() if v > 1e-9}  # noqa: E731
        assert nonzero(got) == pytest.approx(nonzero(want), abs=1e-6)
        store.close()
