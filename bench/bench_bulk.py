"""History at the speed of the store (issue 15): the bulk path against its physical limit.

    python bench/bench_bulk.py [--duration 7d] [--runs 1] [--influx-duration 1d] [--raw-hours 6]

Measures, for config/large.yaml from a fixed Monday (same invocation, in this process):
- the simulator alone into a discarding sink (NullSink): the physical limit;
- the same run into SQLite through the bulk path (`shopfloor sim --fast --store`,
  shopfloor/cli/bulk.py: the collector's validation and inference, the store's own write with
  its rollups), in a fresh file under /tmp, deleted afterwards; the ratio to the limit
  (target <= 2);
- SQLite's raw insert speed: the store's write() alone, of records prepared beforehand (what
  the bulk path's writer thread does), in records per second;
- with influxd 1.x on PATH: the bulk path into InfluxDB 1.x over --influx-duration, the line
  protocol it posted recorded, then that same line protocol posted again with urllib in the
  same batches into a fresh database: the ratio of the bulk path to influxd's own ingest.

Wall seconds and CPU seconds are both given: the machine is shared, and CPU time says what
the work costs whatever else runs. Into SQLite the bulk path runs in two processes (this one
simulates, validates and builds the rows; a writer process inserts them): CPU is given for
each ("sim+rows" and "writer"); the wall ratio is the figure of the target.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shopfloor import clock  # noqa: E402
from shopfloor.cli.bulk import StoreSink  # noqa: E402
from shopfloor.config import load_config  # noqa: E402
from shopfloor.shifts import ShiftCalendar  # noqa: E402
from shopfloor.store.sqlite import SqliteStore  # noqa: E402
from shopfloor.timeparse import parse_duration  # noqa: E402
from simulator.run import run  # noqa: E402
from simulator.sinks import NullSink  # noqa: E402

START_MS = 1_795_366_800_000  # Monday 2026-11-23 00:00 in Ho Chi Minh City


def timed(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def discard(cfg: Any, duration_s: float) -> tuple[float, float, int]:
    sink = NullSink()
    wall, cpu, _ = timed(lambda: run(cfg, sink, START_MS, duration_s))
    return wall, cpu, sink.count


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def into_sqlite(
    cfg: Any, duration_s: float, folder: Path, keep: bool = False
) -> tuple[float, float, int, int, float]:
    """Wall, this process's CPU, records stored, file size, the writer process's CPU."""
    db = folder / "bulk.db"
    store = SqliteStore(db)
    child0 = children_cpu()
    sink = StoreSink(store, ShiftCalendar(cfg.shifts, cfg.plant.timezone), close_store=True)
    wall, cpu, _ = timed(lambda: run(cfg, sink, START_MS, duration_s))
    size = sum(p.stat().st_size for p in folder.glob("bulk.db*"))
    if not keep:
        for p in folder.glob("bulk.db*"):
            p.unlink()
    return wall, cpu, sink.stored, size, children_cpu() - child0


def into_sqlite_jobs(duration_s: float, folder: Path, jobs: int) -> tuple[float, float, int]:
    """The same run as `shopfloor sim --fast --store --jobs N` (shopfloor/cli/sim_jobs.py: the
    plant's lines in N simulating processes, each with its writer), as a user runs it: wall
    time, the CPU of every process it started, the file's size."""
    db = folder / "jobs.db"
    start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(START_MS / 1000))
    argv = [sys.executable, "-m", "shopfloor.cli.main", "sim", "--config",
            str(ROOT / "config" / "large.yaml"), "--fast", "--store", f"sqlite:///{db}",
            "--start", start, "--duration", f"{duration_s}s", "--jobs", str(jobs)]  # fmt: skip
    child0 = children_cpu()
    w0 = time.perf_counter()
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - w0
    size = sum(p.stat().st_size for p in folder.glob("jobs.db*"))
    for p in folder.glob("jobs.db*"):
        p.unlink()
    return wall, children_cpu() - child0, size


def raw_insert(cfg: Any, hours: float, folder: Path) -> tuple[float, int]:
    """The store's write() alone: records validated beforehand, 50,000 per write."""
    box: list[Any] = []

    class Keep(StoreSink):
        def _hand_over(self) -> None:
            box.extend(self._buf)
            self._buf = []

    keep = Keep(
        SqliteStore(folder / "raw-src.db"),
        ShiftCalendar(cfg.shifts, cfg.plant.timezone),
        writer_process=False,
    )
    run(cfg, keep, START_MS + 6 * 3_600_000, hours * 3600)
    store = SqliteStore(folder / "raw.db")
    wall, _, _ = timed(
        lambda: [store.write(box[i : i + 50_000]) for i in range(0, len(box), 50_000)]
    )
    store.close()
    for p in folder.glob("raw*.db*"):
        p.unlink()
    return len(box) / wall, len(box)


def influx(cfg: Any, duration_s: float, folder: Path) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "tests"))
    from shopfloor.store.influx1 import Influx1Store
    from tests.servers import influxd

    bodies = folder / "lines.bin"
    out: dict[str, float] = {}
    with influxd(folder) as server, open(bodies, "wb") as rec:

        class Recording(Influx1Store):
            def _request(self, method: str, path: str, params: Any, body: bytes | None = None):
                if path == "/write" and body:
                    rec.write(len(body).to_bytes(8, "little") + body)
                return super()._request(method, path, params, body)

        store = Recording(server.url)
        sink = StoreSink(store, ShiftCalendar(cfg.shifts, cfg.plant.timezone))
        out["bulk_wall"], out["bulk_cpu"], _ = timed(lambda: run(cfg, sink, START_MS, duration_s))
        out["records"] = sink.stored
        rec.close()
        base = f"http://127.0.0.1:{server.port}"
        urllib.request.urlopen(
            urllib.request.Request(f"{base}/query?q=CREATE+DATABASE+replay", method="POST")
        ).read()

        def replay() -> int:
            n = 0
            with open(bodies, "rb") as f:
                while head := f.read(8):
                    body = f.read(int.from_bytes(head, "little"))
                    req = urllib.request.Request(
                        f"{base}/write?db=replay&precision=u", data=body, method="POST"
                    )
                    urllib.request.urlopen(req).read()
                    n += body.count(b"\n") + 1
            return n

        out["ingest_wall"], _, lines = timed(replay)
        out["lines"] = lines
        out["bytes"] = bodies.stat().st_size
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", default="7d")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--influx-duration", default="1d", help="0: skip InfluxDB")
    ap.add_argument("--raw-hours", type=float, default=6.0)
    ap.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="also the CLI with --jobs N (the lines in N simulating processes); 1: skip",
    )
    ap.add_argument(
        "--jobs-only",
        action="store_true",
        help="the one-process bulk path in the first run only (its median is then of one)",
    )
    args = ap.parse_args()
    duration_s = parse_duration(args.duration)
    cfg = load_config(ROOT / "config" / "large.yaml")
    # The bulk path's future-ts check reads the clock: pin it after the simulated range.
    after = time.gmtime(START_MS / 1000 + duration_s + 3600)
    os.environ[clock.ENV] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", after)
    folder = Path(tempfile.mkdtemp(prefix="bench-bulk-", dir="/tmp"))
    try:
        nulls, bulks, jobs = [], [], []
        for i in range(args.runs):
            nulls.append(discard(cfg, duration_s))
            print(
                f"run {i + 1}: discarding sink {nulls[-1][0]:.1f} s wall, {nulls[-1][1]:.1f} s CPU, {nulls[-1][2]} messages",
                flush=True,
            )
            if not args.jobs_only or i == 0:
                bulks.append(into_sqlite(cfg, duration_s, folder))
                w, c, n, size, wc = bulks[-1]
                print(
                    f"run {i + 1}: bulk into SQLite {w:.1f} s wall, {c:.1f} s CPU sim+rows, {wc:.1f} s CPU writer, {n} records, {size / 1e9:.2f} GB",
                    flush=True,
                )
            if args.jobs > 1:
                jobs.append(into_sqlite_jobs(duration_s, folder, args.jobs))
                w, c, size = jobs[-1]
                print(
                    f"run {i + 1}: shopfloor sim --jobs {args.jobs} into SQLite {w:.1f} s wall, {c:.1f} s CPU (all processes), {size / 1e9:.2f} GB",
                    flush=True,
                )
        nw = statistics.median(x[0] for x in nulls)
        nc = statistics.median(x[1] for x in nulls)
        bw = statistics.median(x[0] for x in bulks)
        bc = statistics.median(x[1] for x in bulks)
        wc = statistics.median(x[4] for x in bulks)
        msgs = nulls[0][2]
        print(f"\n{args.duration} of config/large.yaml ({msgs} messages), medians of {args.runs}:")
        print(f"  discarding sink      {nw:8.1f} s wall {nc:8.1f} s CPU  {msgs / nw:9.0f} msg/s")
        print(
            f"  bulk into SQLite     {bw:8.1f} s wall {bc:8.1f} s CPU sim+rows {wc:8.1f} s CPU writer  {msgs / bw:9.0f} msg/s"
        )
        print(
            f"  ratio (target <= 2)  {bw / nw:8.2f}   wall {bc / nc:8.2f}   CPU sim+rows {wc / nc:8.2f}   CPU writer"
        )
        if jobs:
            jw = statistics.median(x[0] for x in jobs)
            jc = statistics.median(x[1] for x in jobs)
            print(
                f"  --jobs {args.jobs} (CLI)        {jw:8.1f} s wall {jc:8.1f} s CPU, all processes  {msgs / jw:9.0f} msg/s"
            )
            print(
                f"  ratio (target <= 2)  {jw / nw:8.2f}   wall with --jobs {args.jobs} {jc / nc:8.2f}   CPU, all processes"
            )
        print(f"  load average (1, 5, 15 min) at the end: {os.getloadavg()}")
        rate, n = raw_insert(cfg, args.raw_hours, folder)
        print(f"  SQLite raw insert (store.write of {n} prepared records): {rate:,.0f} records/s")
        print(
            f"  bulk into SQLite / raw insert of the same records: {bulks[0][2] / rate:.1f} s of {bw:.1f} s"
        )
        idur = parse_duration(args.influx_duration) if args.influx_duration != "0" else 0
        if idur and shutil.which("influxd"):
            nul = discard(cfg, idur)
            r = influx(cfg, idur, folder)
            print(
                f"\n{args.influx_duration} into InfluxDB 1.x ({r['records']:.0f} records, {r['lines']:.0f} lines, {r['bytes'] / 1e6:.0f} MB of line protocol):"
            )
            print(f"  discarding sink      {nul[0]:8.1f} s wall")
            print(f"  bulk into InfluxDB   {r['bulk_wall']:8.1f} s wall {r['bulk_cpu']:8.1f} s CPU")
            print(
                f"  influxd ingest of the same line protocol, same batches: {r['ingest_wall']:.1f} s wall"
            )
            print(
                f"  ratio bulk / influxd ingest: {r['bulk_wall'] / r['ingest_wall']:.2f}; bulk / discarding sink: {r['bulk_wall'] / nul[0]:.2f}"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
