"""Legacy machines (collector/legacy.py): states from power and the shift calendar, and an
energy meter estimated from power samples, checked against hand-worked values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from collector.legacy import GAP_SAMPLES, PowerStates
from shopfloor.config.schema import Shift
from shopfloor.report import MachineFacts, build_report
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Record

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
POWER = {"off": 0.0, "idle": 4.0, "running": 22.0, "down": 0.5, "setup": 4.0}
SHIFT = Shift(name="A", start="06:00", end="14:00", breaks=[{"start": "10:00", "minutes": 30}])


def ms(hhmmss: str) -> int:
    """Monday 23 November 2026 at a plant-local clock time, in epoch ms."""
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return int(datetime(2026, 11, 23, h, m, s, tzinfo=TZ).timestamp() * 1000)


def sample(ts: int, kw: float, seq: int) -> Record:
    return Record("e", "s", "a", "l", "press", "telemetry", ts, seq, {"power_kw": kw})


def feed(ps: PowerStates, samples: list[tuple[int, float]], seq0: int = 1) -> list[Record]:
    out: list[Record] = []
    for i, (ts, kw) in enumerate(samples):
        out += ps.infer(sample(ts, kw, seq0 + i))
    return out


def readings(records: list[Record]) -> list[tuple[int, float]]:
    return [(r.ts, r.payload["energy_kwh"]) for r in records if r.channel == "energy"]


def states(records: list[Record]) -> list[tuple[int, str, str]]:
    return [
        (r.ts, r.payload["state"], r.payload["reason"]) for r in records if r.channel == "state"
    ]


def test_constant_power_integrates_to_power_times_time():
    ps = PowerStates()
    ps.learn("press", POWER, 10)
    t0 = ms("07:00:00")
    got = feed(ps, [(t0 + 10_000 * i, 22.0) for i in range(361)])  # one hour at 22 kW
    assert readings(got)[0] == (t0, 0.0)
    assert readings(got)[-1][1] == pytest.approx(22.0, abs=1e-6)
    assert all(r.inferred and r.seq is not None for r in got)
    # Each derived record carries its sample's seq (never a new one).
    assert {r.seq for r in got} == set(range(1, 362))


def test_a_step_is_split_by_the_trapezoid():
    ps = PowerStates()
    ps.learn("press", POWER, 10)
    t0 = ms("07:00:00")
    # 22 kW, then 4 kW from some moment between the 2nd and 3rd sample: the interval holding
    # the step is counted at the mean of both ends, (22 + 4) / 2 over 10 s.
    got = readings(feed(ps, [(t0, 22.0), (t0 + 10_000, 22.0), (t0 + 20_000, 4.0)]))
    assert got[-1][1] == pytest.approx((22.0 * 10 + 13.0 * 10) / 3600, abs=1e-6)


def test_a_long_gap_is_not_bridged_and_a_late_sample_changes_nothing():
    ps = PowerStates()
    ps.learn("press", POWER, 10)
    t0 = ms("07:00:00")
    gap = (GAP_SAMPLES + 1) * 10_000
    got = feed(ps, [(t0, 22.0), (t0 + 10_000, 22.0), (t0 + 10_000 + gap, 22.0)])
    assert readings(got)[-1][1] == pytest.approx(22.0 * 10 / 3600, abs=1e-6)
    late = ps.infer(sample(t0 + 5_000, 0.0, 99))
    assert late == []
    nxt = ps.infer(sample(t0 + 20_000 + gap, 22.0, 100))
    assert readings(nxt)[0][1] == pytest.approx(22.0 * 20 / 3600, abs=1e-6)


def test_seeded_meter_goes_on_from_the_stored_reading():
    """A restarted collector: the same samples give the same readings as one that never
    stopped, neither reset nor counted twice."""
    t0 = ms("07:00:00")
    stream = [(t0 + 10_000 * i, 22.0 if i % 7 else 4.0) for i in range(100)]
    whole = PowerStates()
    whole.learn("press", POWER, 10)
    want = readings(feed(whole, stream))
    first = PowerStates()
    first.learn("press", POWER, 10)
    before = readings(feed(first, stream[:40]))
    again = PowerStates()
    again.learn("press", POWER, 10)
    ts, kwh = before[-1]
    again.seed("press", ts, kwh, stream[39][1], "running")
    # A redelivered sample (older than the seed) is ignored; the rest continues.
    after = readings(feed(again, stream[38:], seq0=39))
    got = before + after
    assert [ts for ts, _ in got] == [ts for ts, _ in want]
    assert [kwh for _, kwh in got] == pytest.approx([kwh for _, kwh in want], abs=1e-5)


def test_calendar_breaks_and_off_time_come_from_the_shifts():
    ps = PowerStates(ShiftCalendar([SHIFT], TZ))
    ps.learn("press", POWER, 10)
    got = states(
        feed(
            ps,
            [
                (ms("05:59:55"), 0.0),  # before the shift: off
                (ms("06:00:05"), 22.0),  # the shift began at 06:00 and it runs
                (ms("07:00:00"), 0.0),  # no power in working time: idle, a loss
                (ms("07:00:10"), 0.5),  # down
                (ms("09:59:55"), 4.0),  # idle
                (ms("10:00:05"), 4.0),  # the break began at 10:00 (it idles through it)
                (ms("10:30:03"), 22.0),  # the break ended at 10:30
                (ms("14:00:07"), 0.0),  # after the shift
            ],
        )
    )
    assert got == [
        (ms("05:59:55"), "off", "outside shift"),
        (ms("06:00:00"), "running", "inferred from power"),
        (ms("07:00:00"), "idle", "inferred from power"),
        (ms("07:00:10"), "down", "inferred from power"),
        (ms("09:59:55"), "idle", "inferred from power"),
        (ms("10:00:00"), "planned_stop", "break"),
        (ms("10:30:00"), "running", "inferred from power"),
        (ms("14:00:00"), "off", "outside shift"),
    ]


def test_a_24_7_plant_has_no_off_time():
    ps = PowerStates(ShiftCalendar(None, TZ))
    ps.learn("press", POWER, 10)
    got = states(feed(ps, [(ms("03:00:00"), 0.0), (ms("03:00:10"), 22.0)]))
    assert [s for _, s, _ in got] == ["idle", "running"]


def test_without_a_calendar_the_band_alone_decides():
    ps = PowerStates()
    ps.learn("press", POWER, 10)
    got = states(feed(ps, [(ms("07:00:00"), 0.0), (ms("10:00:05"), 4.0)]))
    assert [s for _, s, _ in got] == ["off", "idle"]


def facts(mid: str, total: int, good: int, energy: float, **extra) -> MachineFacts:
    durations = {"running": 3600.0}
    return MachineFacts(mid, "l1", "a", durations, total, good, total - good, 10.0, energy, extra)


def test_line_reports_every_station_scrap_and_its_rolled_yield():
    line = [
        facts("m1", 100, 98, 5.0, inferred=True, energy_estimated=True),
        facts("m2", 98, 95, 3.0),
        facts("m3", 95, 95, 1.0),
    ]
    rep = build_report({"l1": line}, {})
    le = rep["lines"]["l1"]
    # OEE and the line's own counts stay those of the last station.
    assert (le["scrap_count"], le["good_count"], le["quality"]) == (0, 95, 1.0)
    assert le["station_scrap"] == {"m1": 2, "m2": 3, "m3": 0}
    assert le["scrap_all_stations"] == 5
    assert le["yield"] == pytest.approx(0.98 * 95 / 98)
    assert le["energy_estimated_kwh"] == 5.0 and le["energy_kwh"] == 9.0
    assert le["inferred_stations"] == ["m1"]
    # Its yield and all-station scrap assume the legacy m1 scrapped nothing; its OEE is m3's.
    assert "yield" in le["inferred_fields"] and "oee" not in le["inferred_fields"]
    assert le["inferred"] is False and rep["plant"]["inferred"] is False
    assert "scrap_all_stations" in rep["plant"]["inferred_fields"]
    assert rep["machines"]["m1"]["inferred"] and rep["machines"]["m1"]["energy_estimated"]
    assert "performance" in rep["machines"]["m1"]["inferred_fields"]
    assert not rep["machines"]["m2"]["inferred"] and not rep["machines"]["m2"]["energy_estimated"]
    assert rep["machines"]["m2"]["inferred_fields"] == []
    plant = rep["plant"]
    assert plant["scrap_all_stations"] == 5 and plant["energy_estimated_kwh"] == 5.0


def test_calendar_reasons_are_the_simulators():
    from collector.legacy import CALENDAR_REASON
    from simulator.station import CALENDAR_REASON as SIMULATED

    assert CALENDAR_REASON == SIMULATED


def test_a_line_ending_in_a_legacy_machine_has_an_inferred_oee():
    line = [facts("m1", 100, 97, 2.0), facts("m2", 97, 97, 4.0, inferred=True)]
    rep = build_report({"l1": line}, {})
    assert rep["lines"]["l1"]["inferred"] is True and rep["plant"]["inferred"] is True
    assert "oee" in rep["plant"]["inferred_fields"]
    # Not estimated energy: m2 is inferred but has a meter of its own here.
    assert rep["lines"]["l1"]["energy_estimated_kwh"] == 0.0


@pytest.mark.parametrize("huge", [1e305, 1.7976931348623157e308, 1e20, 221.0])
def test_an_implausible_power_sample_changes_neither_state_nor_meter(huge):
    """A valid JSON number far beyond the machine's stated power (a garbled or forged sample)
    is not integrated: before, 1e305 kW made the estimate infinite for good (stored as inf,
    the next start seeded from it, `simulator.resume.from_store` refused it) and 1e20 froze it
    (later samples too small to move it). It is skipped as if lost: the meter bridges over it."""
    ps = PowerStates()
    ps.learn("press", POWER, 10)
    t0 = ms("07:00:00")
    got = feed(ps, [(t0, 22.0), (t0 + 10_000, huge), (t0 + 20_000, 22.0), (t0 + 30_000, 22.0)])
    assert [ts for ts, _ in readings(got)] == [t0, t0 + 20_000, t0 + 30_000]
    assert readings(got)[-1][1] == pytest.approx(22.0 * 30 / 3600, abs=1e-6)
    assert [s for _, s, _ in states(got)] == ["running"]
    # Ten times the highest stated power is still believed (a start-up surge, a bad band).
    ok = PowerStates()
    ok.learn("press", POWER, 10)
    got = feed(ok, [(t0, 22.0), (t0 + 10_000, 220.0)])
    assert readings(got)[-1][1] == pytest.approx(121.0 * 10 / 3600, abs=1e-6)
