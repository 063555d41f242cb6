"""A restarted plant goes on, it does not start over (simulator.resume): its stations draw new
luck rather than replay the first run's cycle times and failures from the top, and their
process values start where the store's last sample left them, not cold. Both runs of the
default plant through a real SQLite store, as the demo's restart reads it."""

from __future__ import annotations

from pathlib import Path

import orjson

from collector.validate import validate
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.kinds import KINDS
from simulator.resume import Resume, from_store
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import PLANT, instant_s

CFG = load_config(PLANT)
FIRST_MS = int(instant_s("2026-11-23T06:00:00+07:00") * 1000)  # Monday, shift A
RESTART_MS = FIRST_MS + 2 * 3_600_000  # 08:00, still shift A (its break is at 10:00)
CNC = "cnc-01"  # the first station of machining-1: an unlimited source in front of it


def simulate(
    start_ms: int, hours: float, resume: dict[str, Resume] | None = None
) -> list[tuple[str, dict]]:
    sink = ListSink()
    run(CFG, sink, start_ms, hours * 3600, resume=resume)
    return [(t, p) for t, p, _ in sink.messages]


def stored(tmp_path: Path, messages: list[tuple[str, dict]]) -> SqliteStore:
    store = SqliteStore(tmp_path / "s.db")
    recs = [validate(t, orjson.dumps(p), FIRST_MS + 10**9, 10**12, 10**6) for t, p in messages]
    store.write([r for r in recs if isinstance(r, Record)])
    return store


def count_offsets_s(messages: list[tuple[str, dict]], machine: str, start_ms: int) -> list[float]:
    """When the machine's finished parts were counted, in seconds from its run's start (the
    counters a run sends as it starts aside)."""
    return [
        (p["ts"] - start_ms) / 1000
        for t, p in messages
        if t.endswith(f"/{machine}/count") and p["ts"] > start_ms
    ]


def ran_and_stored(tmp_path: Path) -> tuple[list[tuple[str, dict]], dict[str, Resume]]:
    """The first two hours, and what a restart reads of them from a real SQLite store."""
    first = simulate(FIRST_MS, 2)
    store = stored(tmp_path, first)
    try:
        return first, from_store(store, {st.id for _, st in CFG.stations()}, CFG)
    finally:
        store.close()


def samples(messages: list[tuple[str, dict]], machine: str) -> list[dict]:
    return [p for t, p in messages if t.endswith(f"/{machine}/telemetry")]


def test_a_restart_draws_new_luck_the_same_for_the_same_store(tmp_path):
    first, resume = ran_and_stored(tmp_path)
    again = simulate(RESTART_MS, 1, resume)
    ran = count_offsets_s(first, CNC, FIRST_MS)[:20]
    goes_on = count_offsets_s(again, CNC, RESTART_MS)[:20]
    assert len(ran) == len(goes_on) == 20
    # Both hours run the same way (shift A, no break, a source that never starves): from the
    # top of the first run's streams, the restart's parts would end at the very same offsets.
    assert goes_on != ran
    # Deterministic all the same: the same store gives the same run.
    assert simulate(RESTART_MS, 1, resume) == again


def test_process_values_start_where_the_stored_run_left_them(tmp_path):
    first, resume = ran_and_stored(tmp_path)
    left = samples(first, CNC)[-1]
    went_on = samples(simulate(RESTART_MS, 0.1, resume), CNC)[0]
    for pv in KINDS["cnc"].values:
        # Two hours of cutting: warm, far above where a cold start begins.
        assert left[pv.name] - pv.off > 10 * pv.noise_sd, (pv.name, left)
        # One sample interval on, within a few noise sd of where it was (a cold start would be
        # one interval's lag above `off`).
        assert abs(went_on[pv.name] - left[pv.name]) < 6 * pv.noise_sd, (pv.name, left, went_on)


def test_a_restart_hours_later_starts_cold(tmp_path):
    """The plant was not simulated in between: its values cooled toward `off` meanwhile, with
    their own time constants; six hours are 24 of the spindle's 15 minutes."""
    _, resume = ran_and_stored(tmp_path)
    later_ms = RESTART_MS + 6 * 3_600_000
    went_on = samples(simulate(later_ms, 0.1, resume), CNC)[0]
    cold = samples(simulate(later_ms, 0.1), CNC)[0]  # the same hour, nothing carried
    for pv in KINDS["cnc"].values:
        assert abs(went_on[pv.name] - cold[pv.name]) < 6 * pv.noise_sd, (pv.name, went_on, cold)


def test_every_stream_of_a_station_and_its_line_is_new_after_a_restart():
    """Not only the cycle and failure stream: the wear's and the line's materials' too (a
    station with maintenance, a line with a supplier's random lead time), and none of them
    for a station with nothing stored."""
    import simpy

    from simulator.plant import Plant
    from simulator.sinks import NullSink
    from tests.simulator.helpers import START_MS, plant, station

    cfg = plant(
        [station("s1", mtbf_min=60, mttr_min=5, maintenance={"weibull_shape": 2.0}),
         station("s2")],
        products=[{"id": "A", "line": "l1", "materials": {"steel": 1}}],
        suppliers=[{"id": "sup", "lead_time_h": {"mean": 2}}],  # exponential
        materials=[{"id": "steel", "supplier": "sup", "reorder_point": 0, "reorder_qty": 10}],
        orders={"plan": [{"id": "o1", "product": "A", "quantity": 5, "release_h": 0, "due_h": 3}]},
    )  # fmt: skip

    def built(resume: dict[str, Resume] | None) -> Plant:
        return Plant(simpy.Environment(), cfg, NullSink(), START_MS, resume=resume)

    def draws(rng) -> list[float]:
        return [rng.random() for _ in range(3)]

    fresh, again = built(None), built({"s1": Resume(seq=7)})
    (s1, s2), (r1, r2) = fresh.stations, again.stations
    assert s1.wear is not None and r1.wear is not None
    assert draws(r1.rng) != draws(s1.rng)
    assert draws(r1.noise_rng) != draws(s1.noise_rng)
    assert draws(r1.wear.rng) != draws(s1.wear.rng)
    steel = (fresh.supplies["l1"].inventories["steel"], again.supplies["l1"].inventories["steel"])
    assert draws(steel[1].rng) != draws(steel[0].rng)
    # s2 has nothing stored: its luck is the first run's.
    assert draws(r2.rng) == draws(s2.rng)
