"""Server time of the dashboard's overview and energy refreshes on a week of config/large.yaml.

    python bench/bench_dash.py [--runs 7] [--data-dir DIR] [--influx]

The data set: config/large.yaml (225 stations) simulated for 7 days ending Monday 2026-11-23
11:00 in Ho Chi Minh City (mid shift A), validated like the collector does and written to
SQLite (and, with --influx, to a local influxd 1.x started on a free port). The SQLite file
is kept in --data-dir and reused by later invocations.

Timed: what one refresh of the overview page does on the server (fetch from the store, KPI
math, the figure and table, and the JSON Dash sends), for each named range, median of --runs.
The baseline in the same run is the cheapest possible store round trip (the machine list),
so the ratio says how much a refresh costs beyond touching the store at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import plotly.io

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.validate import validate  # noqa: E402
from shopfloor import clock  # noqa: E402
from shopfloor.config import load_config  # noqa: E402
from shopfloor.config.schema import PlantConfig  # noqa: E402
from shopfloor.store.base import Record, Store  # noqa: E402
from shopfloor.store.sqlite import SqliteStore  # noqa: E402
from simulator.run import run  # noqa: E402

END_MS = 1_795_366_800_000 + 11 * 3_600_000  # Monday 2026-11-23 11:00 +07:00
DAYS = 7
RANGES = ("current_shift", "today", "last_24h", "last_7d")


class StoreSink:
    """Validates each message as the collector would and writes batches to the stores."""

    def __init__(self, stores: list[Store], batch: int = 20_000):
        self.stores = stores
        self.batch = batch
        self.buf: list[Record] = []
        self.count = 0

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        rec = validate(topic, orjson.dumps(payload), END_MS, 10**12, 10**6)
        if isinstance(rec, Record):
            self.buf.append(rec)
            if len(self.buf) >= self.batch:
                self.flush()

    def flush(self) -> None:
        for s in self.stores:
            s.write(self.buf)
        self.count += len(self.buf)
        self.buf = []

    def close(self) -> None:
        self.flush()


def fill(cfg: PlantConfig, stores: list[Store]) -> int:
    sink = StoreSink(stores)
    t0 = time.perf_counter()
    run(cfg, sink, END_MS - DAYS * 86_400_000, DAYS * 86400)
    sink.close()
    print(f"  filled {sink.count:,} records in {time.perf_counter() - t0:.0f} s", flush=True)
    return sink.count


def refresh_once(store: Store, cfg: PlantConfig, range_kind: str) -> float:
    from dashboard.context import context
    from dashboard.data import overview
    from dashboard.pages import overview as page  # noqa: F401  (registers the page)

    ctx = context()
    t0 = time.perf_counter()
    data = overview(ctx, range_kind, now_s=END_MS / 1000)
    out = sys.modules["pages.overview"].render(data, "en", ctx.tz)
    plotly.io.to_json(out[0]) if out[0] else None
    _ = orjson.dumps([str(x) for x in out[1:]])
    dt = time.perf_counter() - t0
    assert data.error is None, data.error
    assert len(data.report["machines"]) == len(cfg.stations()), "every machine is in the report"
    return dt


def energy_once(store: Store, cfg: PlantConfig, range_kind: str) -> float:
    """One refresh of the energy page as its callback does it (fetch, KPI math, the four
    figures, summary and table, and the JSON Dash sends); the clock is pinned at END_MS."""
    from dashboard.pages import energy as page  # noqa: F401  (registers the page)

    t0 = time.perf_counter()
    out = sys.modules["pages.energy"].refresh(1, range_kind, "en")
    for fig in out[:4]:
        plotly.io.to_json(fig) if fig else None
    _ = orjson.dumps([str(x) for x in out[4:]])
    dt = time.perf_counter() - t0
    assert out[4] is not None, out[6]  # the summary: the page drew data, not a message
    return dt


def bench_store(
    name: str,
    store: Store,
    cfg: PlantConfig,
    runs: int,
    pages: tuple[str, ...] = ("overview", "energy"),
) -> None:
    from dashboard.app import create_app

    create_app(store, cfg)
    base = []
    for _ in range(runs):
        t0 = time.perf_counter()
        store.machines()
        base.append(time.perf_counter() - t0)
    b = statistics.median(base)
    print(f"{name}: baseline machines() {b * 1000:.1f} ms")
    for kind in RANGES if "overview" in pages else ():
        refresh_once(store, cfg, kind)  # warm caches the way a live page does
        times = [refresh_once(store, cfg, kind) for _ in range(runs)]
        med = statistics.median(times)
        print(
            f"  {kind:14s} median {med * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, "
            f"max {max(times) * 1000:.1f}; {med / b:.0f}x baseline)  target < 300 ms",
            flush=True,
        )
    for kind in RANGES if "energy" in pages else ():
        energy_once(store, cfg, kind)
        times = [energy_once(store, cfg, kind) for _ in range(runs)]
        med = statistics.median(times)
        print(
            f"  energy {kind:14s} median {med * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, "
            f"max {max(times) * 1000:.1f})  target < 300 ms",
            flush=True,
        )


def build_meter_rollup(store: Any) -> None:
    """A data set written before the InfluxDB stores kept kWh per quarter (or each machine's
    newest records, `_latest`) gets them as a live store would: on the next write (here a
    repeat of a stored reading, stored once)."""
    if store.reader.meter_rollup_complete() and store.reader.latest_complete():
        return
    t0 = time.perf_counter()
    m = store.reader.metered()[0]
    ts, seq, kwh = store.reader.readings_of(m, END_MS + 1)[-1]
    info = next(i for i in store.machines() if i.machine == m)
    where = (info.enterprise, info.site, info.area, info.line, m)
    store.write([Record(*where, "energy", ts, seq, {"energy_kwh": kwh})])
    print(f"  built the meter rollup in {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "shopfloor-bench-dash"))
    ap.add_argument("--influx", action="store_true", help="also InfluxDB 1.x (influxd on PATH)")
    ap.add_argument("--pages", default="overview,energy", help="comma-separated pages to time")
    args = ap.parse_args()
    pages = tuple(args.pages.split(","))
    # The energy page reads the clock for its range (the overview is given now_s): frozen at
    # the data set's end so every run times the same windows.
    os.environ[clock.ENV] = datetime.fromtimestamp(END_MS / 1000, UTC).isoformat()
    cfg = load_config(ROOT / "config" / "large.yaml")
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "large-7d.sqlite"
    ready = folder / "large-7d.done"
    influx = None
    stores: list[Store] = []
    if not ready.exists():
        db.unlink(missing_ok=True)
        stores.append(SqliteStore(db))
    if args.influx:
        from shopfloor.store.influx1 import Influx1Store
        from tests.servers import Influxd

        influx_dir = folder / "influxd"
        influx_ready = folder / "influxd.done"
        if not influx_ready.exists():
            shutil.rmtree(influx_dir, ignore_errors=True)
        influx_dir.mkdir(exist_ok=True)
        influx = Influxd(influx_dir).start()
        if not influx_ready.exists():
            stores.append(Influx1Store(influx.url))
    try:
        if stores:
            print(f"filling {', '.join(s.url for s in stores)} with {DAYS} days of large.yaml")
            fill(cfg, stores)
            for s in stores:
                s.close()
            ready.touch()
            if influx is not None:
                (folder / "influxd.done").touch()
        bench_store("sqlite", SqliteStore(db), cfg, args.runs, pages)
        if influx is not None:
            from shopfloor.store.influx1 import Influx1Store

            store = Influx1Store(influx.url)
            build_meter_rollup(store)
            bench_store("influxdb1", store, cfg, args.runs, pages)
    finally:
        if influx is not None:
            influx.stop()


if __name__ == "__main__":
    main()
