"""The rollups' rebuild over a real SQLite store that holds nothing of a machine: no rows and
no cached tail (it raised IndexError on the empty load), and the machine's first readings and
changes after it are rolled up as theory says."""

from __future__ import annotations

from shopfloor.store.base import Record
from shopfloor.store.meter_rollup import QUARTER_MS
from shopfloor.store.rollup import HOUR_MS
from shopfloor.store.sqlite import SqliteStore

T0 = 1_795_399_200_000  # 2026-11-23 06:00 +07:00: a whole hour


def rec(channel: str, ts: int, seq: int, payload: dict) -> Record:
    return Record(
        "acme", "hcm", "a", "l1", "m1", channel, ts, seq, {"ts": ts, "seq": seq, **payload}
    )


def test_a_rebuild_of_a_machine_with_nothing_stored_gives_nothing(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    try:
        with store._lock:
            assert store.meters.rebuild("m1", 0) == []
            assert store.meters.rebuild("m1", T0) == []
            assert store.rollup._rebuild("m1", T0) == []
        assert "m1" not in store.meters.tails and "m1" not in store.rollup.tails
        # Then its first readings: a quarter's newest reading over 0 (a first reading counts
        # from 0), the next quarter's rise over it.
        store.write(
            [
                rec("energy", T0 + 60_000, 1, {"energy_kwh": 1.0}),
                rec("energy", T0 + 120_000, 2, {"energy_kwh": 3.5}),
                rec("energy", T0 + QUARTER_MS + 60_000, 3, {"energy_kwh": 4.0}),
                rec("state", T0, 4, {"state": "running", "reason": ""}),
                rec("state", T0 + 1_800_000, 5, {"state": "idle", "reason": ""}),
            ]
        )
        assert store.energy_quarters(T0, T0 + HOUR_MS) == {
            "m1": [(T0, 3.5), (T0 + QUARTER_MS, 0.5)]
        }
        hours = store.state_hours(T0, T0 + HOUR_MS)
        assert hours["m1"]["running"] == 1800.0
    finally:
        store.close()
