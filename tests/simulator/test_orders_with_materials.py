"""Work orders on a line that waits for raw material (issue 12: "lines start an order when it
is released and its material is there"): the order starts when its first part's material is
drawn, not when the order gate hands out the part."""

from __future__ import annotations

import pytest

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
