"""Every store answers every query the same way (SQLite, and a real InfluxDB 1.x)."""

from __future__ import annotations

import contextlib
import re

import pytest

from shopfloor.store import open_store
from shopfloor.store.base import Record, StoreError
from shopfloor.store.rollup import END_OF_TIME_MS
from tests.servers import influxd, influxd_path

KINDS = ["sqlite", "influxdb1"] if influxd_path() else ["sqlite"]


def rec(machine: str, channel: str, ts: int, seq: int | None, **payload) -> Record:
    return Record("acme", "hcm", "a", "l1", machine, channel, ts, seq, payload)


RECORDS = [
    rec(
        "m1",
        "status",
        1000,
        None,
        online=True,
        kind="cnc",
        position=0,
        line_length=2,
        ideal_cycle_s=45.0,
        connectivity="full",
        power_kw={"running": 10.0},
    ),
    rec(
        "m2",
        "status",
        1000,
        None,
        online=True,
        kind="press",
        position=1,
        line_length=2,
        ideal_cycle_s=30.0,
        connectivity="legacy",
        power_kw={"running": 20.0, "idle": 4.0},
    ),
    rec("m1", "state", 1000, 1, state="running", reason=""),
    rec("m1", "state", 5000, 2, state="down", reason='tool breakage, "bad"'),
    rec("m1", "state", 5000, 3, state="running", reason=""),  # same millisecond, next seq
    rec("m1", "state", 9000, 4, state="starved", reason="waiting for m0"),
    rec("m1", "count", 2000, 5, total=1, good=1, scrap=0),
    rec("m1", "count", 6000, 6, total=3, good=2, scrap=1),
    rec("m1", "energy", 3000, 7, energy_kwh=0.5),
    rec("m1", "energy", 8000, 8, energy_kwh=1.25),
    rec("m1", "telemetry", 4000, 9, power_kw=10.0, spindle_temp_c=40.5),
    rec("m1", "telemetry", 4500, 10, power_kw=12.0, spindle_temp_c=41.0),
    rec("m1", "telemetry", 7000, 11, power_kw=2.0, spindle_temp_c=39.0),
    rec("m2", "telemetry", 7000, 1, power_kw=20.0),
    rec("m1", "status", 9500, None, online=False),
]


@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 's.db'}"
        if request.param == "influxdb1":
            url = stack.enter_context(influxd(tmp_path)).url
        s = open_store(url)
        s.write(RECORDS)
        s.write(RECORDS[2:6])  # a repeat is stored once
        yield s
        s.close()


def test_machines(store):
    ms = {m.machine: m for m in store.machines()}
    assert set(ms) == {"m1", "m2"}
    assert (ms["m1"].kind, ms["m1"].position, ms["m1"].ideal_cycle_s, ms["m1"].online) == (
        "cnc",
        0,
        45.0,
        False,
    )
    assert (ms["m2"].connectivity, ms["m2"].power_kw, ms["m2"].online) == (
        "legacy",
        {"running": 20.0, "idle": 4.0},
        True,
    )
    assert ms["m1"].last_ts == 9000
    # The newest birth, which a death after it leaves alone (the line view counts from it).
    assert (ms["m1"].birth_ts, ms["m2"].birth_ts) == (1000, 1000)


def test_states_include_the_one_before_the_window(store):
    got = store.states(4000, 9000)
    assert got["m1"] == [
        (1000, "running", ""),
        (5000, "down", 'tool breakage, "bad"'),
        (5000, "running", ""),
    ]
    assert store.states(0, 10_000)["m1"][-1] == (9000, "starved", "waiting for m0")


def test_counters_at_an_instant(store):
    assert store.counter_at("count", 6000)["m1"] == (6000, {"total": 3, "good": 2, "scrap": 1})
    assert store.counter_at("count", 5999)["m1"] == (2000, {"total": 1, "good": 1, "scrap": 0})
    assert "m1" not in store.counter_at("count", 1999)
    assert store.counter_at("energy", 10_000)["m1"] == (8000, {"energy_kwh": 1.25})


def test_samples_raw_and_bucketed(store):
    assert store.samples("m1", 0, 10_000) == [(4000, 10.0), (4500, 12.0), (7000, 2.0)]
    assert store.samples("m1", 0, 10_000, every_ms=5000) == [(0, 11.0), (5000, 2.0)]
    assert store.samples("m1", 4100, 6000) == [(4500, 12.0)]


def test_process_values_of_one_machine_in_time_order(store):
    # Issue 12, the Machine page's SPC chart: one value, a machine without it has none.
    assert store.process_values("m1", "spindle_temp_c", 0, 7000) == [(4000, 40.5), (4500, 41.0)]
    assert store.process_values("m1", "spindle_temp_c", 4500, 10_000) == [
        (4500, 41.0),
        (7000, 39.0),
    ]
    assert store.process_values("m2", "spindle_temp_c", 0, 10_000) == []
    with pytest.raises(ValueError, match="not a process value name"):
        store.process_values("m1", 'x" FROM energy --', 0, 10_000)


def test_max_seq(store):
    assert store.max_seq() == {"m1": 11, "m2": 1}


def test_unreachable_influx_is_a_store_error():
    s = open_store("influxdb1://127.0.0.1:1/nope")
    with pytest.raises(StoreError, match=re.escape("influxdb1://127.0.0.1:1/nope")):
        s.write(RECORDS[:3])


H = 3_600_000


def test_last_changes_and_the_hour_rollup(store):
    assert store.last_changes(5000)["m1"] == (1000, "running", "")
    assert store.last_changes(END_OF_TIME_MS)["m1"] == (9000, "starved", "waiting for m0")
    # Closed intervals only: [1000, 5000) running, [5000, 5000) down, [5000, 9000) running.
    hours = store.state_hours(0, H)["m1"]
    assert hours["running"] == pytest.approx(8.0)
    assert hours["starved"] == 0.0
    # A change an hour and a half later closes the starved interval across two hours.
    store.write([rec("m1", "state", 9000 + H + H // 2, 12, state="running", reason="")])
    assert store.state_hours(0, H)["m1"]["starved"] == pytest.approx((H - 9000) / 1000)
    assert store.state_hours(H, 2 * H)["m1"]["starved"] == pytest.approx((H // 2 + 9000) / 1000)
    assert store.state_hours(0, 3 * H)["m1"]["starved"] == pytest.approx((H + H // 2) / 1000)
    # A late change inside the closed interval (a gap filled) rebuilds the hours it touches.
    store.write([rec("m1", "state", H + 9000, 5, state="down", reason="late")])
    got = store.state_hours(0, 3 * H)["m1"]
    assert got["starved"] == pytest.approx(H / 1000)
    assert got["down"] == pytest.approx(H / 2000)


def test_range_durations_combine_rollup_edges_and_the_open_interval(store):
    from shopfloor.store.report import durations_from_changes, state_durations

    store.write(
        [
            rec("m1", "state", 3 * H + 1234, 20, state="down", reason="x"),
            rec("m1", "state", 5 * H + 777, 21, state="setup", reason=""),
            rec("m1", "energy", 7 * H, 22, energy_kwh=9.0),  # heard from until 7 h
        ]
    )
    for t0, t1 in [(0, 8 * H), (1500, 6 * H + 5), (2 * H + 9, 7 * H - 1), (H + 1, 2 * H - 1)]:
        end = min(t1, 7 * H + 1)
        want = durations_from_changes(store.states(t0, t1)["m1"], t0, end)
        got = state_durations(store, t0, t1, {"m1": end})["m1"]
        assert got == pytest.approx(want, abs=1e-6), (t0, t1)


def test_energy_buckets_hold_the_newest_reading(store):
    store.write(
        [
            rec("m1", "energy", 12_000, 30, energy_kwh=2.0),
            rec("m1", "energy", 14_000, 31, energy_kwh=2.5),
        ]
    )
    assert store.energy_buckets(0, 20_000, 10_000)["m1"] == [(0, 1.25), (10_000, 2.5)]
    assert store.energy_buckets(9000, 13_000, 10_000)["m1"] == [(10_000, 2.0)]


def test_one_machine_only(store):
    assert set(store.states(0, 10_000, "m1")) == {"m1"}
    assert store.states(4000, 9000, "m1")["m1"][0] == (1000, "running", "")
    assert store.states(0, 10_000, "m2") == {}
    assert store.last_changes(5000, "m1") == {"m1": (1000, "running", "")}


def test_loss_hours_by_reason(store):
    store.write([rec("m1", "state", 2 * H, 40, state="running", reason="")])
    assert store.loss_hours(0, H) == pytest.approx(
        {("starved", "waiting for m0"): (H - 9000) / 1000}
    )
    assert store.loss_hours(0, 3 * H) == pytest.approx(
        {("starved", "waiting for m0"): (2 * H - 9000) / 1000}
    )
    assert store.loss_hours(2 * H, 3 * H) == {}


def test_quarter_sums_add_up_each_machines_quarters(store):
    # Energy page (issue 10): the plant's demand curve summed by the store itself.
    q = 900_000
    store.write(
        [
            rec("m2", "energy", 2000, 2, energy_kwh=1.0),
            rec("m2", "energy", q + 1000, 3, energy_kwh=1.75),
            rec("m1", "energy", q + 2000, 30, energy_kwh=2.0),
        ]
    )
    per_machine = store.energy_quarters(0, 2 * q)
    assert per_machine["m1"] == [(0, pytest.approx(1.25)), (q, pytest.approx(0.75))]
    assert per_machine["m2"] == [(0, pytest.approx(1.0)), (q, pytest.approx(0.75))]
    assert store.energy_quarter_sums(0, 2 * q, ["m1", "m2"]) == pytest.approx({0: 2.25, q: 1.5})
    assert store.energy_quarter_sums(q, 2 * q, ["m2", "m9"]) == pytest.approx({q: 0.75})
    assert store.energy_quarter_sums(0, 2 * q, []) == {}


Q = 900_000
# m3's meter, written in three batches: a reset in the third quarter, and a reading of the
# fourth quarter that arrives after a newer one of the same quarter and a re-sent one.
# kWh per quarter by the definition (a quarter's newest reading minus the one before it,
# never negative): 2.0, nothing metered (0), reset (0), 1.2 - 0.5.
METER_BATCHES = [
    [rec("m3", "energy", 100, 1, energy_kwh=1.0), rec("m3", "energy", 500_000, 2, energy_kwh=2.0)],
    [
        rec("m3", "energy", 2 * Q + 1, 3, energy_kwh=0.5),
        rec("m3", "energy", 3 * Q + 1, 4, energy_kwh=1.5),
    ],
    [
        rec("m3", "energy", 3 * Q + 500, 5, energy_kwh=1.2),
        rec("m3", "energy", 100, 1, energy_kwh=1.0),
    ],
]
METER_QUARTERS = [(0, 2.0), (Q, 0.0), (2 * Q, 0.0), (3 * Q, pytest.approx(0.7))]


def test_meter_quarters_of_late_reset_and_repeated_readings(store):
    # Issue 10: every store keeps kWh per quarter as its readings are written.
    for batch in METER_BATCHES:
        store.write(batch)
    assert store.energy_quarters(0, 4 * Q)["m3"] == METER_QUARTERS
    assert store.energy_quarters(Q, 3 * Q)["m3"] == METER_QUARTERS[1:3]
    assert store.energy_quarter_sums(0, 4 * Q, ["m3"]) == pytest.approx(dict(METER_QUARTERS))


@pytest.mark.skipif(not influxd_path(), reason="needs influxd")
def test_influx_builds_its_meter_rollup_over_readings_written_before_it(tmp_path):
    # Data written by a version without the meter rollup: read from the readings until the
    # next write builds every machine's quarters, including machines that write nothing.
    with influxd(tmp_path) as server:
        s = open_store(server.url)
        s.write(RECORDS)
        for batch in METER_BATCHES:
            s.write(batch)
        s.reader.query("DROP MEASUREMENT energy_quarters; DROP MEASUREMENT meter_rollup")
        s.close()
        older = open_store(server.url)
        # (the readings' way has no quarter where nothing was read)
        assert older.energy_quarters(0, 4 * Q)["m3"] == [METER_QUARTERS[i] for i in (0, 2, 3)]
        assert older.energy_quarter_sums(0, 4 * Q, ["m1", "m3"]) == pytest.approx(
            {0: 3.25, 2 * Q: 0.0, 3 * Q: 0.7}
        )
        older.write([rec("m1", "energy", 4 * Q + 1, 12, energy_kwh=1.5)])
        again = open_store(server.url)
        assert again.energy_quarters(0, 4 * Q)["m3"] == METER_QUARTERS
        assert again.energy_quarters(0, 5 * Q)["m1"] == [
            (0, 1.25),
            (Q, 0.0),
            (2 * Q, 0.0),
            (3 * Q, 0.0),
            (4 * Q, 0.25),
        ]
        older.close()
        again.close()
