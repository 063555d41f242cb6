"""A restarted plant does not renew its machines (issue 12; docs/architecture.md, Maintenance
and wear): a station's running time since its last preventive maintenance and its last
renewal, and the parts since its last tool change, go on from what the store holds of the
earlier run. Against the first run's true wear (its plant's own clocks) and, in the second
run, the interval the config gives: maintenance after `every_running_h` running hours in all,
a tool change after `change_every_parts` parts in all, counting both runs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from collector.validate import validate
from shopfloor.config import parse_config
from shopfloor.config.maintenance import PM_REASON, TOOL_CHANGE_REASON
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.resume import from_store
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import instant_s

START_MS = int(instant_s("2026-11-23T06:00:00+07:00") * 1000)
EVERY_H = 5.0
PARTS = 700
CFG: dict[str, Any] = {
    "plant": {"enterprise": "acme", "site": "wear"},
    "seed": 4,
    "shifts": [{"name": "A", "start": "06:00", "end": "14:00"}],
    "telemetry": {"sample_interval_s": 900, "energy_interval_s": 900},
    "lines": [
        {
            "id": "l1",
            "area": "a",
            "stations": [
                {
                    "id": "cnc",
                    "kind": "cnc",
                    "ideal_cycle_s": 30,  # deterministic: a part every 30 s of running
                    "buffer": 5,
                    "power_kw": {"running": 8, "idle": 1},
                    "mtbf_min": 600,
                    "mttr_min": 5,
                    "maintenance": {"weibull_shape": 2, "every_running_h": EVERY_H, "duration_min": 20},
                    "tool_wear": {"value": "vibration_mm_s", "drift": 1.0, "change_every_parts": PARTS,
                                  "change_min": 5, "scrap_rate_worn": 0.1},
                },
                {"id": "pack", "ideal_cycle_s": 25, "power_kw": {"running": 2, "idle": 1}},
            ],
        }
    ],
}  # fmt: skip


class Capture(ListSink):
    def attach(self, plant: Any) -> None:
        self.plant = plant


def stored(messages: list[tuple[str, Any, bool]], store: SqliteStore) -> None:
    recs = [validate(t, orjson.dumps(p), 10**13, 10**12, 10**6) for t, p, _ in messages]
    assert all(isinstance(r, Record) for r in recs)
    store.write(recs)  # type: ignore[arg-type]


def running_until(
    messages: list[tuple[str, Any, bool]], start_ms: int, state: tuple[str, str]
) -> tuple[float, int]:
    """Running seconds of cnc from start_ms to its first `state`, and the parts it counted
    before it (its count messages' rise)."""
    run_s, since, first_total, total = 0.0, None, None, None
    for topic, p, _ in messages:
        if topic.endswith("/cnc/count"):
            first_total = p["total"] if first_total is None else first_total
            total = p["total"]
        if not topic.endswith("/cnc/state"):
            continue
        if since is not None:
            run_s += (p["ts"] - since) / 1000.0
            since = None
        if (p["state"], p["reason"]) == state:
            return run_s, total - first_total  # type: ignore[operator]
        if p["state"] == "running":
            since = p["ts"]
    raise AssertionError(f"no {state} in the run")


@pytest.mark.parametrize("hours", [6.5, 8 + 24 + 3.25])
def test_wear_goes_on_across_a_restart(tmp_path, hours):
    cfg = parse_config(CFG)
    first = Capture()
    res1 = run(cfg, first, START_MS, hours * 3600)
    wear = first.plant.stations[0].wear
    true_age = wear.age_s()
    true_since_pm = wear.running_s() - wear.last_pm_run_s
    true_parts = wear.parts
    assert 0 < true_since_pm < EVERY_H * 3600 and 0 < true_parts < PARTS  # mid-interval
    store = SqliteStore(tmp_path / "s.db")
    stored(first.messages, store)
    resume = from_store(store, {"cnc", "pack"}, cfg)
    store.close()
    got = resume["cnc"].wear
    assert got is not None and resume["pack"].wear is None
    # State times are stored to the millisecond; the tool's parts are counted exactly.
    assert got.age_s == pytest.approx(true_age, abs=0.5)
    assert got.age_s == pytest.approx(
        res1.report["machines"]["cnc"]["maintenance"]["wear_h"] * 3600, abs=0.5
    )
    assert got.since_pm_s == pytest.approx(true_since_pm, abs=0.5)
    assert got.tool_parts == true_parts

    second = ListSink()
    start2 = res1.report["plant"]["end_ms"] + 1
    run(cfg, second, start2, 2 * 86400, resume=resume)
    # The first maintenance of the second run comes after what was left of the interval (it
    # waits for the part in work: up to one 30 s cycle, or a repair's worth if it broke).
    run_s, _ = running_until(second.messages, start2, ("planned_stop", PM_REASON))
    assert EVERY_H * 3600 - true_since_pm <= run_s <= EVERY_H * 3600 - true_since_pm + 30.5
    # The first tool change after the parts the tool had left, exactly.
    _, parts = running_until(second.messages, start2, ("setup", TOOL_CHANGE_REASON))
    assert parts == PARTS - true_parts
