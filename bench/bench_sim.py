"""Simulator speed against a bare SimPy loop, in the same process.

    python bench/bench_sim.py [--runs 3] [--large-duration 1d]

Reports, as medians of --runs runs:
- config/large.yaml (225 stations) with --fast and a discarding sink: plant events per second,
  where a plant event is one thing the plant reports (a state change, a finished part, a power
  sample, a meter reading: one message each);
- the bare loop: as many processes as stations doing the same number of env.timeout() calls
  in all (and, for comparison, one process doing them all);
- the ratio of the model's cost per plant event to the bare loop's cost per timeout
  (target: <= 3), and per SimPy event for transparency (the model batches samples: one
  SimPy timeout per sampling tick covers every station);
- one simulated week of config/plant.yaml, with JSONL written to a temp file (target < 10 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.orders_plant import orders_plant  # noqa: E402
from bench.supply_plant import supply_plant  # noqa: E402
from shopfloor.config import load_config  # noqa: E402
from shopfloor.timeparse import parse_duration  # noqa: E402
from simulator.run import run  # noqa: E402
from simulator.sinks import JsonlSink, NullSink  # noqa: E402

START_MS = 1_795_366_800_000  # Monday 2026-11-23 00:00 in Ho Chi Minh City


def bare_loop(n: int, processes: int = 1) -> float:
    """n timeouts in all, spread over `processes` processes (the event heap grows with them)."""
    env = simpy.Environment()

    def proc(k: int):
        for _ in range(k):
            yield env.timeout(1 + (k % 7) * 0.1)

    for i in range(processes):
        env.process(proc(n // processes + (i < n % processes)))
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0


def large(duration_s: float) -> tuple[float, int, int, int]:
    cfg = load_config(ROOT / "config" / "large.yaml")
    sink = NullSink()
    res = run(cfg, sink, START_MS, duration_s)
    return res.wall_s, sink.count, res.events, len(cfg.stations())


def plant_week(orders: bool = False, materials: bool = False) -> tuple[float, int]:
    """orders: with the products-and-orders example of plant.yaml switched on (issue 12);
    materials: its materials example too (bench/supply_plant.py)."""
    if materials:
        cfg = supply_plant(orders=orders)
    else:
        cfg = orders_plant() if orders else load_config(ROOT / "config" / "plant.yaml")
    with tempfile.TemporaryFile() as f:
        sink = JsonlSink(f)
        res = run(cfg, sink, START_MS, 7 * 86400)
        return res.wall_s, sink.count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--large-duration", default="1d")
    ap.add_argument(
        "--orders-only",
        action="store_true",
        help="only the week of plant.yaml with its products-and-orders example (issue 12)",
    )
    ap.add_argument(
        "--supply-only",
        action="store_true",
        help="only the week of plant.yaml with its orders and materials examples (issue 12)",
    )
    args = ap.parse_args()
    dur = parse_duration(args.large_duration)
    if args.orders_only:
        orders_week(args.runs)
        return
    if args.supply_only:
        supply_week(args.runs)
        return

    rows = []
    for _ in range(args.runs):
        wall, messages, events, stations = large(dur)
        n = messages
        rows.append(
            (
                wall,
                messages,
                events,
                bare_loop(n, stations),
                bare_loop(n),
                bare_loop(events, stations),
            )
        )
    wall = statistics.median(r[0] for r in rows)
    messages, events = rows[0][1], rows[0][2]
    n = messages
    bare_n = statistics.median(r[3] for r in rows)
    bare_1 = statistics.median(r[4] for r in rows)
    bare_e = statistics.median(r[5] for r in rows)
    print(
        f"large.yaml ({stations} stations), {args.large_duration} --fast, NullSink, median of {args.runs}:"
    )
    print(f"  wall {wall:.2f} s; {messages:,} plant events (messages), {events:,} SimPy events")
    print(f"  model: {n / wall:,.0f} plant events/s")
    print(
        f"  bare SimPy, {stations} processes: {n / bare_n:,.0f} timeouts/s -> ratio {wall / bare_n:.2f}x (target <= 3)"
    )
    print(f"  bare SimPy, 1 process:   {n / bare_1:,.0f} timeouts/s -> ratio {wall / bare_1:.2f}x")
    print(
        f"  per SimPy event only: ratio {wall / bare_e:.2f}x (each SimPy event carries ~{messages / events:.1f} messages)"
    )
    weeks = [plant_week() for _ in range(args.runs)]
    print(f"plant.yaml, 7d --fast, JSONL to a file, median of {args.runs}:")
    print(
        f"  wall {statistics.median(w for w, _ in weeks):.2f} s for {weeks[0][1]:,} messages (target < 10 s)"
    )
    orders_week(args.runs)
    supply_week(args.runs)


def supply_week(runs: int) -> None:
    weeks = [plant_week(orders=True, materials=True) for _ in range(runs)]
    print(f"plant.yaml with its orders and materials examples, 7d --fast, JSONL, median of {runs}:")
    print(
        f"  wall {statistics.median(w for w, _ in weeks):.2f} s for {weeks[0][1]:,} messages (target < 10 s)"
    )


def orders_week(runs: int) -> None:
    weeks = [plant_week(orders=True) for _ in range(runs)]
    print(f"plant.yaml with its orders example, 7d --fast, JSONL to a file, median of {runs}:")
    print(
        f"  wall {statistics.median(w for w, _ in weeks):.2f} s for {weeks[0][1]:,} messages (target < 10 s)"
    )


if __name__ == "__main__":
    main()
