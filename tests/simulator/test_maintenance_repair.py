"""Preventive maintenance that comes due during a repair (issue 12): it starts as the repair
ends, while the machine is stopped anyway, not after the part the breakdown interrupted.

Hand-worked timelines on one station with a deterministic 10-minute cycle, no shifts (24/7),
calendar maintenance at 00:20 on Monday for 30 minutes, and a breakdown by command (the one
kind whose time and repair are known in advance)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from simulator.plant import Plant
from simulator.sinks import ListSink

from .helpers import START_MS, plant, station

MIN = 60.0
PM = {"at": [{"start": "00:20", "days": ["mon"]}], "duration_min": 30}


def run_with_breakdown(
    stations: list[dict[str, Any]], which: int, at_s: float, repair_s: float, until_s: float
) -> tuple[dict[str, Any], list[tuple[float, str, str]], Plant]:
    cfg = plant(stations)
    env = simpy.Environment()
    sink = ListSink()
    p = Plant(env, cfg, sink, START_MS)
    target = p.lines["l1"][which]

    def breakdown() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(at_s)
        target.inject_breakdown("manual", repair_s)

    env.process(breakdown())
    env.run(until=until_s)
    p.close()
    states = [
        ((q["ts"] - START_MS) / 1000.0, q["state"], q["reason"])
        for t, q, _ in sink.messages
        if t.endswith(f"/{target.id}/state")
    ]
    return p.report()["machines"][target.id], states, p


def test_maintenance_due_during_a_repair_starts_when_the_repair_ends():
    # Parts at 0, 10, 20 min...; the second part (10-20 min) is broken into at 15 min for
    # 10 min. The maintenance came due at 20 min, during the repair: it runs 25-55 min, then
    # the part's last 5 minutes 55-60, and the third part starts at 60 min.
    m, states, _ = run_with_breakdown(
        [station("m1", ideal_cycle_s=600, maintenance=PM)], 0, 15 * MIN, 10 * MIN, 95 * MIN
    )
    pm = m["maintenance"]["preventive_maintenance"]
    assert pm == [{"start_ms": START_MS + 25 * 60_000, "end_ms": START_MS + 55 * 60_000}]
    assert states == [
        (0.0, "running", ""),
        (15 * MIN, "down", "manual"),
        (25 * MIN, "planned_stop", "preventive maintenance"),
        (55 * MIN, "running", ""),
    ]
    assert m["down_s"] == 10 * MIN
    assert m["planned_stop_s"] == 30 * MIN
    assert m["running_s"] == 95 * MIN - 40 * MIN
    # Parts finish at 10, 60, 70, 80 and 90 min.
    assert m["total_count"] == 5


def test_maintenance_due_during_the_repair_of_a_waiting_station_starts_when_it_ends():
    # s2 (a 5-minute cycle) waits for s1's parts (10-minute cycle): starved 0-10, 15-20 ...
    # Broken into at 17 min (starved, its part 2 done at 15) for 5 min: the maintenance came
    # due at 20 min; it runs 22-52 min, and s2 then takes the parts waiting for it.
    m, states, _ = run_with_breakdown(
        [station("s1", ideal_cycle_s=600), station("s2", ideal_cycle_s=300, maintenance=PM)],
        1,
        17 * MIN,
        5 * MIN,
        90 * MIN,
    )
    pm = m["maintenance"]["preventive_maintenance"]
    assert pm == [{"start_ms": START_MS + 22 * 60_000, "end_ms": START_MS + 52 * 60_000}]
    at_22 = [s for s in states if s[0] == 22 * MIN]
    assert at_22[-1][1:] == ("planned_stop", "preventive maintenance")
    assert m["planned_stop_s"] == 30 * MIN
