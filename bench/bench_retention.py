"""Pruning speed, and what it costs the store's writer and readers meanwhile (issue 15).

    python bench/bench_retention.py --db day.db

`--db`: a SQLite store holding some history, e.g. a day of config/large.yaml:

    shopfloor sim --config config/large.yaml --fast --duration 1d \\
        --start 2026-11-02T00:00:00+07:00 --store sqlite:///day.db

A copy of it is pruned with a raw retention that cuts its whole history (now = its newest
row + retention + 1 h), while a writer thread writes 200 power samples every 50 ms through
the store's own write() (the collector's batches on a busy plant) and a reader asks for the
hour rollup of the day and the counters at an instant. Printed: rows deleted per second, the
longest prune transaction, and the write and read latencies before and during the pass.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from shopfloor.store.base import Record
from shopfloor.store.retention import Pruner, Retention
from shopfloor.store.sqlite import SqliteStore

DAY_S = 86400.0


def quantiles(xs: list[float]) -> str:
    if not xs:
        return "-"
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return (
        f"median {statistics.median(xs) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {xs[-1] * 1000:.1f} ms (n={len(xs)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "prune.db"
        src = sqlite3.connect(args.db)
        dst = sqlite3.connect(db)
        src.backup(dst)
        src.close()
        dst.close()
        con = sqlite3.connect(db)
        (t0,), (t1,) = (
            con.execute(f"SELECT {f}(ts) FROM samples").fetchone() for f in ("min", "max")
        )
        rows = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("samples", "states", "counts", "energy")
        }
        con.close()
        print(
            f"{args.db}: {sum(rows.values()):,} raw rows ({rows}), {db.stat().st_size / 1e6:.0f} MB"
        )
        store = SqliteStore(db)
        machine = store.machines()[0]
        stop = threading.Event()
        phase = ["before"]
        writes: dict[str, list[float]] = {"before": [], "during": []}
        reads: dict[str, list[float]] = {"before": [], "during": []}
        seq = [10**9]
        ts = [t1 + 1000]

        def writer() -> None:
            while not stop.is_set():
                batch = []
                for _ in range(200):
                    seq[0] += 1
                    ts[0] += 10
                    batch.append(Record(
                        machine.enterprise, machine.site, machine.area, machine.line,
                        machine.machine, "telemetry", ts[0], seq[0],
                        {"ts": ts[0], "seq": seq[0], "power_kw": 1.0, "values": {}},
                    ))  # fmt: skip
                s = time.perf_counter()
                store.write(batch)
                writes[phase[0]].append(time.perf_counter() - s)
                stop.wait(0.05)

        def reader() -> None:
            while not stop.is_set():
                s = time.perf_counter()
                store.state_hours(t0 - t0 % 3_600_000, t1)
                store.counter_at("count", (t0 + t1) // 2)
                reads[phase[0]].append(time.perf_counter() - s)
                stop.wait(0.1)

        threads = [threading.Thread(target=f) for f in (writer, reader)]
        for t in threads:
            t.start()
        time.sleep(5)
        phase[0] = "during"
        retention_s = DAY_S
        now_ms = t1 + int(retention_s * 1000) + 3_600_000
        pruner = Pruner(db, Retention(retention_s, None), batch=args.batch)
        stats = pruner.prune(now_ms)
        stop.set()
        for t in threads:
            t.join()
        pruner.stop()
        store.close()
        print(
            f"pruned {stats.total:,} rows in {stats.seconds:.1f} s: "
            f"{stats.total / stats.seconds:,.0f} rows/s; longest transaction "
            f"{stats.longest_txn_s * 1000:.1f} ms; {stats.deleted}"
        )
        for p in ("before", "during"):
            print(f"writes of 200 samples {p}: {quantiles(writes[p])}")
            print(f"reads (hour rollup of the day + counters) {p}: {quantiles(reads[p])}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
