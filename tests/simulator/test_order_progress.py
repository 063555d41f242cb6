"""An order in flight says its parts so far every 15 simulated minutes (simulator/orders.py,
PROGRESS_EVERY_S), so a run that is killed, and never sends its closing `progress`, leaves a
restart at most a quarter of an hour of the order to make again. Worked by hand on a line of
three deterministic 70-second stations: part k leaves the line at (k + 2) * 70 s."""

from __future__ import annotations

import orjson

from collector.validate import validate
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.orders import PROGRESS_EVERY_S
from simulator.resume import from_store
from tests.simulator.helpers import START_MS, plant, simulate_messages, station

CYCLE_S = 70


def _plant():
    return plant(
        [station(s, ideal_cycle_s=CYCLE_S) for s in ("s1", "s2", "s3")],
        products=[{"id": "A", "line": "l1"}],
        orders={
            "plan": [{"id": "o1", "product": "A", "quantity": 100, "release_h": 0, "due_h": 4}]
        },
    )


def good_by(t_s: float) -> int:
    """Parts out of the last station by t_s (no tick falls on a part's exit: 900 / 70 is no
    whole number, nor any multiple of it up to the hour)."""
    return max(0, int(t_s // CYCLE_S) - 2)


def test_an_order_in_flight_says_its_parts_every_quarter_hour_and_at_the_end():
    _, messages = simulate_messages(_plant(), 3600)
    progress = [
        (p["ts"] - START_MS, p["good"], p["scrap"])
        for t, p, _ in messages
        if t.endswith("/s1/order") and p["event"] == "progress"
    ]
    ticks = [PROGRESS_EVERY_S * k for k in (1, 2, 3)]
    assert progress == [(int(t * 1000), good_by(t), 0) for t in ticks] + [
        (3_600_000, good_by(3600), 0)
    ]
    assert [good for _, good, _ in progress] == [10, 23, 36, 49]  # the formula, worked out


def test_a_killed_run_leaves_a_restart_the_parts_of_its_last_quarter_hour(tmp_path):
    cfg = _plant()
    _, messages = simulate_messages(cfg, 3600)
    # Killed at 50 minutes: what it sent before then, and nothing of a closing progress.
    killed_at = START_MS + 50 * 60_000
    sent = [(t, p) for t, p, _ in messages if p.get("ts", 0) < killed_at]
    store = SqliteStore(tmp_path / "s.db")
    recs = [validate(t, orjson.dumps(p), START_MS + 10**9, 10**12, 10**6) for t, p in sent]
    store.write([r for r in recs if isinstance(r, Record)])
    try:
        book = from_store(store, {"s1", "s2", "s3"}, cfg)["s1"].orders
    finally:
        store.close()
    assert book is not None
    (o1,) = book.open
    # The 45-minute progress: 36 good; parts 37-40, out at 2,730-2,940 s (before the kill),
    # are made again.
    assert (o1.id, o1.good, o1.scrap, o1.start_ts) == ("o1", good_by(2700), 0, START_MS)
    assert good_by(3000) - o1.good == 4
