"""Alerts and the truth ledger on config/large.yaml (225 stations).

- shopfloor.alerts.evaluate(store, cfg, now) on a SQLite store holding 12 simulated hours:
  what the collector runs every --alerts-every seconds (and the dashboard on every refresh), at
  a whole hour (the hour's OEE from the rollup) and just after one (two partial hours raw).
- The simulator's truth ledger (simulator/truth.py): bytes per quarter-hour mark, a week of
  marks, the time to answer a `truth` command for 8 hours and the size of its reply.

    python bench/bench_alerts.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.validate import validate
from shopfloor import alerts
from shopfloor.config import load_config
from shopfloor.config.load import parse_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.paced_env import PacedEnvironment
from simulator.plant import Plant
from simulator.sinks import ListSink

ROOT = Path(__file__).resolve().parents[1]
START_MS = 1_795_366_800_000  # Monday 00:00 +07:00
HOURS = 12


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    data = load_config(ROOT / "config" / "large.yaml").model_dump(mode="json")
    data["alerts"] = {"machine_down_min": 15, "line_oee_below": 0.4, "demand_limit_kw": 2000}
    cfg = parse_config(data)
    sink = ListSink()
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, sink, START_MS)
    env.run(until=HOURS * 3600)
    end = START_MS + HOURS * 3_600_000
    store = SqliteStore(Path(tempfile.mkdtemp()) / "large.db")
    recs = [validate(t, orjson.dumps(p), end, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    print(f"{len(plant.stations)} stations, {len(sink.messages):,} messages stored")
    for label, now in (("11:00:00", START_MS + 11 * 3_600_000),
                       ("11:07:30", START_MS + 11 * 3_600_000 + 450_000)):  # fmt: skip
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            found = alerts.evaluate(store, cfg, now)
            times.append(time.perf_counter() - t0)
        print(f"evaluate at {label}: median {statistics.median(times) * 1000:.1f} ms "
              f"({len(found)} active)")  # fmt: skip
    mark = plant.truth.marks[-1][1]
    per_mark = mark.itemsize * len(mark)
    print(f"truth ledger: {per_mark:,} bytes per mark, a week {per_mark * 672 / 1e6:.1f} MB, "
          f"the 8 days kept {per_mark * 768 / 1e6:.1f} MB")  # fmt: skip
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        report = plant.truth.report(START_MS + 3 * 3_600_000, START_MS + 11 * 3_600_000)
        times.append(time.perf_counter() - t0)
    print(f"truth of 8 hours: median {statistics.median(times) * 1000:.1f} ms, reply "
          f"{len(orjson.dumps(report)) / 1000:.0f} kB")  # fmt: skip


if __name__ == "__main__":
    main()
