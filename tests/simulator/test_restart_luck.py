"""A restarted plant goes on, it does not start over (simulator.resume): its stations draw new
luck rather than replay the first run's cycle times and failures from the top, and their
process values start where the store's last sample left them, not cold. Both runs of the
default plant through a real SQLite store, as the demo's restart reads it."""

from __future__ import annotations

import orjson

from collector.validate import validate
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.kinds import KINDS
from simulator.resume import from_store
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import PLANT, instant_s

CFG = load_config(PLANT)
FIRST_MS = int(instant_s("2026-11-23T06:00:00+07:00") * 1000)  # Monday, shift A
RESTART_MS = FIRST_MS + 2 * 3_600_000  # 08:00, still shift A (its break is at 10:00)
CNC = "cnc-01"  # the first station of machining-1: an unlimited source in front of it


def simulate(start_ms: int, hours: float, resume=None) -> list[tuple[str, dict]]:
    sink = ListSink()
    run(CFG, sink, start_ms, hours * 3600, resume=resume)
    return [(t, p) for t, p, _ in sink.messages]


def stored(tmp_path, messages: list[tuple[str, dict]]) -> SqliteStore:
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


def samples(messages: list[tuple[str, dict]], machine: str) -> list[dict]:
    return [p for t, p in messages if t.endswith(f"/{machine}/telemetry")]


def test_a_restart_draws_new_luck_the_same_for_the_same_store(tmp_path):
    first = simulate(FIRST_MS, 2)
    store = stored(tmp_path, first)
    try:
        resume = from_store(store, {st.id for _, st in CFG.stations()}, CFG)
    finally:
        store.close()
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
    first = simulate(FIRST_MS, 2)
    store = stored(tmp_path, first)
    try:
        resume = from_store(store, {st.id for _, st in CFG.stations()}, CFG)
    finally:
        store.close()
    left = samples(first, CNC)[-1]
    went_on = samples(simulate(RESTART_MS, 0.1, resume), CNC)[0]
    for pv in KINDS["cnc"].values:
        # Two hours of cutting: warm, far above where a cold start begins.
        assert left[pv.name] - pv.off > 10 * pv.noise_sd, (pv.name, left)
        # One sample interval on, within a few noise sd of where it was (a cold start would be
        # one interval's lag above `off`).
        assert abs(went_on[pv.name] - left[pv.name]) < 6 * pv.noise_sd, (pv.name, left, went_on)
