"""Work orders on a line that waits for raw material (issue 12: "lines start an order when it
is released and its material is there"): the order starts when its first part's material is
drawn, not when the order gate hands out the part."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from simulator.plant import Plant
from simulator.sinks import ListSink
from tests.simulator.helpers import START_MS, plant, simulate_messages, station

H = 3600.0


def test_an_order_starts_when_its_material_is_there():
    # Nothing on hand, a constant 2 h lead time: the first part waits 2 h for steel; five
    # one-minute parts through two one-minute stations then take 6 minutes.
    cfg = plant(
        [station("s1"), station("s2")],
        products=[{"id": "A", "line": "l1", "materials": {"steel": 1}}],
        suppliers=[{"id": "sup", "lead_time_h": 2}],
        materials=[{"id": "steel", "supplier": "sup", "reorder_point": 0, "reorder_qty": 10}],
        orders={
            "plan": [
                {"id": "o1", "product": "A", "quantity": 5, "release_h": 0, "due_h": 3},
            ]
        },
    )
    result, msgs = simulate_messages(cfg, 4 * H)
    (o1,) = result.report["orders"]["orders"]
    assert o1["release_ms"] == START_MS
    assert o1["start_ms"] - START_MS == 2 * H * 1000
    assert o1["finish_ms"] - START_MS == (2 * H + 360) * 1000
    line = result.report["orders"]["lines"]["l1"]
    assert line["lead_time_mean_s"] == 2 * H + 360
    assert line["flow_time_mean_s"] == 360
    # Parts in the line: each of the five from its material's draw at s1 to leaving s2 two
    # minutes later; none while the line waits for steel.
    assert line["wip_parts_avg"] == pytest.approx(5 * 120.0 / (4 * H))
    started = [p for t, p, _ in msgs if t.endswith("/s1/order") and p["event"] == "started"]
    assert [p["ts"] - START_MS for p in started] == [2 * H * 1000]
    assert started[0]["start_ts"] == started[0]["ts"]


def test_a_breakdown_while_waiting_comes_back_to_the_lines_state():
    """A breakdown by command (the only kind that strikes a waiting machine) on s2 while the
    line is idle for want of an order; an order released during the repair: s3 waits for s2
    from then on (starved, not idle), and s2 after its repair is starved too, as its parts
    are coming."""
    cfg = plant(
        [station("s1"), station("s2"), station("s3")],
        products=[{"id": "A", "line": "l1"}],
        orders={
            "plan": [
                {"id": "o1", "product": "A", "quantity": 3, "release_h": 0, "due_h": 1},
                {"id": "o2", "product": "A", "quantity": 3, "release_h": 1, "due_h": 2},
            ]
        },
    )
    env = simpy.Environment()
    sink = ListSink()
    p = Plant(env, cfg, sink, START_MS)

    def breakdown() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(0.5 * H)
        p.lines["l1"][1].inject_breakdown("manual", 0.75 * H)  # down 0.5 h to 1.25 h

    env.process(breakdown())
    env.run(until=2 * H)
    p.close()
    m = p.report()["machines"]
    # s1: o1's parts at 0-180 s, o2's at 1 h-1 h + 180 s, idle the rest.
    assert m["s1"]["idle_s"] == 2 * H - 360
    # s3: idle after o1 (300 s) until o2's release, starved until s2 hands it a part
    # (1.25 h + 60 s), idle after o2's last part (1.25 h + 240 s) to the end.
    assert m["s3"]["idle_s"] == (H - 300) + (2 * H - (1.25 * H + 240))
    assert m["s3"]["starved_s"] == 120 + (0.25 * H + 60)
    assert m["s3"]["running_s"] == 360
    # s2: never idle between its repair and its first part of o2 (the parts were there).
    states = [
        ((q["ts"] - START_MS) / 1000.0, q["state"])
        for t, q, _ in sink.messages
        if t.endswith("/s2/state")
    ]
    assert (1.25 * H, "idle") not in states


def test_an_order_released_while_the_first_station_is_down_wakes_the_line():
    """The first station broken down (by command) while idle for want of an order: an order
    released during its repair makes the stations after it wait for it (starved) from the
    release, as they would for any breakdown of a working line."""
    cfg = plant(
        [station("s1"), station("s2")],
        products=[{"id": "A", "line": "l1"}],
        orders={"plan": [{"id": "o1", "product": "A", "quantity": 2, "release_h": 1, "due_h": 2}]},
    )
    env = simpy.Environment()
    sink = ListSink()
    p = Plant(env, cfg, sink, START_MS)

    def breakdown() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(0.5 * H)
        p.lines["l1"][0].inject_breakdown("manual", 0.75 * H)  # down 0.5 h to 1.25 h

    env.process(breakdown())
    env.run(until=2 * H)
    p.close()
    m = p.report()["machines"]
    # s2: idle until the release (1 h), starved until s1's first part (1.25 h + 60 s), two
    # parts, idle after them.
    assert m["s2"]["starved_s"] == 0.25 * H + 60
    assert m["s2"]["idle_s"] == H + (2 * H - (1.25 * H + 180))
    states = [
        ((q["ts"] - START_MS) / 1000.0, q["state"])
        for t, q, _ in sink.messages
        if t.endswith("/s1/state")
    ]
    # s1 goes from its repair straight to work (no instant of idle: the order is there).
    assert states[-3:] == [(0.5 * H, "down"), (1.25 * H, "running"), (1.25 * H + 120, "idle")]
