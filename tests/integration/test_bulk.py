"""History at the speed of the store (issue 15): `shopfloor sim --fast --store URL` stores
exactly what the collector stores from the same run through a real broker.

The range (Monday 04:00-12:00 in the plant) holds off time, shift A's start and its break, so
the legacy press's calendar states, estimated meter and the rollups all take part.

- Same seed, same range: the bulk-written SQLite store and the collector-written one (a real
  Mosquitto, the collector with the plant's calendar) hold the same rows in every table
  (raw, inferred, rollups, machines) and give the same report, which equals the simulator's
  ground truth where the store measures (good parts of every full machine).
- The handover: a bulk backfill, then a live run (`--continue-from`) through the broker into
  the same store: the collector takes the bulk-written seqs as seen (no gap, no duplicate),
  each machine's seq runs 1..N without a hole, counters and meters never step back.
- `--jsonl-dir`: the same records, partitioned by plant-local day and channel.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.deadletter import DeadLetter
from collector.metrics import Metrics
from collector.service import Collector
from shopfloor.config import load_config
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.report import report_from_store
from shopfloor.store.sqlite import SqliteStore
from tests.support import PLANT, cli, pinned_env, read_jsonl, running_broker, wait_for

START = "2026-11-23T04:00+07:00"
START_MS = 1_795_381_200_000
HOURS = 8
END_MS = START_MS + HOURS * 3_600_000
NOW = "2026-11-23T12:30:00+07:00"  # the bulk path's clock (its future-ts check), after the range
DAY_MS = 86_400_000
TABLES = {
    "states": "machine, ts, seq, state, code, reason, inferred",
    "counts": "machine, ts, seq, total, good, scrap",
    "energy": "machine, ts, seq, energy_kwh",
    "samples": 'machine, ts, seq, power_kw, "values"',
    "state_hours": "*",
    "loss_hours": "*",
    "energy_quarters": "*",
    "materials": "*",
    "orders": "*",
    "machines": "*",
}


# Rollup sums of one hour may be added up in another order (the batches cut the stream
# elsewhere): equal to a millisecond, not to the last bit.
ROLLUPS = {"state_hours", "loss_hours", "energy_quarters"}


def rows(db: Path, table: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        got = con.execute(f"SELECT {TABLES[table]} FROM {table}").fetchall()
    finally:
        con.close()
    if table in ROLLUPS:
        got = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in got]
    return sorted(got, key=repr)


def flat(d: object, at: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in flat(val, f"{at}.{key}").items()}
    if isinstance(d, list):
        return {k: v for i, val in enumerate(d) for k, v in flat(val, f"{at}[{i}]").items()}
    return {at: d}


def start_collector(broker, db: Path, cfg) -> Collector:
    col = Collector(
        parse_broker_url(broker.url),
        SqliteStore(db),
        client_id="bulk-test",
        dead_letter=DeadLetter(db.with_name("dead.jsonl")),
        metrics=Metrics(),
        machines={(line.area, line.id, st.id) for line, st in cfg.stations()},
        max_future_ms=3650 * DAY_MS,
        calendar=ShiftCalendar(cfg.shifts, ZoneInfo(cfg.plant.timezone)),
    ).start()
    wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "subscribed")
    return col


def sent_last_seq(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in read_jsonl(path):
        if "seq" in m["payload"]:
            out[m["topic"].split("/")[6]] = m["payload"]["seq"]
    return out


def stored_max_seq(db: Path) -> dict[str, int]:
    store = SqliteStore(db, read_only=True)
    try:
        return store.max_seq()
    finally:
        store.close()


def offline(db: Path) -> bool:
    con = sqlite3.connect(db)
    try:
        got = con.execute("SELECT count(*), sum(online) FROM machines").fetchone()
    finally:
        con.close()
    return got[0] > 0 and got[1] == 0


def bulk(*args: str, env_now: str = NOW) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli("sim", "--config", str(PLANT), "--fast", *args),
        capture_output=True, text=True, timeout=300, env=pinned_env(env_now, frozen=True),
    )  # fmt: skip


def through_broker(broker, db: Path, cfg, tmp: Path, *args: str) -> Collector:
    """One `shopfloor sim --broker` run into `db` through a collector; returns the collector
    (stopped) once every seq sent and every machine's offline status is stored."""
    col = start_collector(broker, db, cfg)
    try:
        sim = subprocess.run(
            cli("sim", "--config", str(PLANT), "--fast", "--broker", broker.url,
                "--jsonl", str(tmp / "sent.jsonl"), *args),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert sim.returncode == 0, sim.stderr
        want = sent_last_seq(tmp / "sent.jsonl")
        wait_for(
            lambda: all(stored_max_seq(db).get(m) == s for m, s in want.items()) and offline(db),
            120,
            "every seq and the offline status stored",
        )
    finally:
        col.stop()
    return col


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bulk")
    cfg = load_config(PLANT)
    dur = f"{HOURS}h"
    with running_broker() as broker:
        through_broker(broker, tmp / "mqtt.db", cfg, tmp, "--start", START, "--duration", dur)
    got = bulk("--start", START, "--duration", dur, "--store", f"sqlite:///{tmp / 'bulk.db'}",
               "--report", str(tmp / "truth.json"))  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "records stored" in got.stderr
    truth = json.loads((tmp / "truth.json").read_text())
    reports = {}
    for name in ("mqtt", "bulk"):
        store = SqliteStore(tmp / f"{name}.db", read_only=True)
        reports[name] = report_from_store(store, START_MS, END_MS + 1, cfg)
        store.close()
    return tmp, cfg, truth, reports


@pytest.mark.parametrize("table", sorted(TABLES))
def test_bulk_store_holds_the_collectors_rows(both, table):
    tmp = both[0]
    want = rows(tmp / "mqtt.db", table)
    got = rows(tmp / "bulk.db", table)
    if table in ("states", "samples", "energy", "machines", "state_hours", "energy_quarters"):
        assert want, table  # the comparison is not of two empty tables
    assert got == want


def test_bulk_stores_the_legacy_press_inference(both):
    tmp = both[0]
    con = sqlite3.connect(tmp / "bulk.db")
    try:
        inferred = dict(
            con.execute(
                "SELECT reason, count(*) FROM states WHERE machine = 'press-01' AND inferred = 1 "
                "GROUP BY reason"
            ).fetchall()
        )
        readings = con.execute("SELECT count(*) FROM energy WHERE machine = 'press-01'").fetchone()[
            0
        ]
    finally:
        con.close()
    # Off before 06:00 and shift A's break come from the calendar, the rest from power.
    assert {"outside shift", "break", "inferred from power"} <= set(inferred)
    assert readings > 1000  # one estimated reading per 10 s sample over 8 h


def test_bulk_report_equals_the_collectors_and_the_truth(both):
    _, cfg, truth, reports = both
    want, got = flat(reports["mqtt"]), flat(reports["bulk"])
    assert got.keys() == want.keys()
    for k, v in want.items():
        if k.endswith(".store"):
            continue  # the store's own URL
        # Rollup sums may differ in the last bit (added up in another order).
        assert got[k] == (pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v), k
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    for mid, want in truth["machines"].items():
        if mid in legacy:
            continue
        have = reports["bulk"]["machines"][mid]
        assert have["good_count"] == want["good_count"], mid
        assert have["energy_kwh"] == pytest.approx(want["energy_kwh"], abs=0.01), mid
    assert sum(m["good_count"] for m in truth["machines"].values()) > 100


def test_a_second_bulk_run_stores_nothing_twice(both, tmp_path):
    tmp = both[0]
    db = tmp_path / "again.db"
    db.write_bytes((tmp / "bulk.db").read_bytes())
    got = bulk("--start", START, "--duration", f"{HOURS}h", "--store", f"sqlite:///{db}")
    assert got.returncode == 0, got.stderr
    assert "already stored (duplicates)" in got.stderr
    for table in ("states", "counts", "energy", "samples", "state_hours", "energy_quarters"):
        assert rows(db, table) == rows(tmp / "bulk.db", table), table


def test_handover_from_bulk_to_mqtt_is_seamless(tmp_path):
    cfg = load_config(PLANT)
    db = tmp_path / "s.db"
    half = f"{HOURS // 2}h"
    got = bulk("--start", START, "--duration", half, "--store", f"sqlite:///{db}")
    assert got.returncode == 0, got.stderr
    before = stored_max_seq(db)
    with running_broker() as broker:
        col = through_broker(
            broker, db, cfg, tmp_path,
            "--start", START, "--duration", half, "--continue-from", f"sqlite:///{db}",
        )  # fmt: skip
    # The collector took the bulk-written seqs as seen: nothing counted twice, no gap.
    assert col.metrics.value("shopfloor_collector_stored_total") > 0
    assert sum(col.seqs.duplicates.values()) == 0
    assert all(col.seqs.gaps(m) == 0 for m in before)
    after = stored_max_seq(db)
    con = sqlite3.connect(db)
    try:
        seqs: dict[str, set[int]] = defaultdict(set)
        for table in ("states", "counts", "energy", "samples"):
            where = "WHERE inferred = 0" if table == "states" else ""
            for m, s in con.execute(f"SELECT machine, seq FROM {table} {where}"):
                seqs[m].add(s)
        counts = con.execute("SELECT machine, total FROM counts ORDER BY machine, ts, seq")
        totals = defaultdict(list)
        for m, total in counts:
            totals[m].append(total)
        meters = defaultdict(list)
        for m, kwh in con.execute(
            "SELECT machine, energy_kwh FROM energy ORDER BY machine, ts, seq"
        ):
            meters[m].append(kwh)
        last_ts = con.execute("SELECT max(ts) FROM samples").fetchone()[0]
    finally:
        con.close()
    for m, top in after.items():
        assert top > before[m], m  # the live part went on
        assert seqs[m] == set(range(1, top + 1)), m  # 1..N: no hole, none restarted
    for series in (*totals.values(), *meters.values()):
        assert all(b >= a for a, b in itertools.pairwise(series))
    assert last_ts > START_MS + (HOURS - 1) * 3_600_000  # the second half was stored


def test_jsonl_dir_holds_the_records_by_day_and_channel(both, tmp_path):
    tmp, cfg = both[0], both[1]
    out = tmp_path / "history"
    # 20 h from 04:00: two plant-local days.
    got = bulk("--start", START, "--duration", "20h", "--jsonl-dir", str(out),
               env_now="2026-11-24T02:00:00+07:00")  # fmt: skip
    assert got.returncode == 0, got.stderr
    tz = ZoneInfo(cfg.plant.timezone)
    per_channel: Counter[str] = Counter()
    days = set()
    for f in sorted(out.glob("day=*/channel=*/part-*.jsonl")):
        day = f.parent.parent.name.removeprefix("day=")
        channel = f.parent.name.removeprefix("channel=")
        days.add(day)
        for line in f.read_text().splitlines():
            row = json.loads(line)
            assert datetime.fromtimestamp(row["ts"] / 1000, tz).strftime("%Y-%m-%d") == day
            assert {"machine", "line", "area", "seq", "inferred"} <= set(row)
            per_channel[channel] += 1
    assert days == {"2026-11-23", "2026-11-24"}
    # The first 8 h are what the bulk store holds, channel by channel.
    con = sqlite3.connect(tmp / "bulk.db")
    try:
        stored = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("states", "counts", "samples")
        }
    finally:
        con.close()
    assert per_channel["telemetry"] > stored["samples"] > 0
    assert per_channel["state"] > stored["states"] > 0
    assert per_channel["count"] > stored["counts"] > 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--store", "sqlite:///x.db"), "add --fast"),
        (("--fast", "--duration", "1h", "--store", "mysql://x/y"), "--store: 'mysql://x/y'"),
        (("--fast", "--duration", "1h", "--store", "sqlite:///a.db", "--broker", "mqtt://h"),
         "give --store or --broker"),
    ],
)  # fmt: skip
def test_bulk_options_are_checked(tmp_path, args, says):
    refused(tmp_path, args, says)
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "a.db").exists()


def refused(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    """`shopfloor sim` of the demo plant with `args`, run in `tmp_path`, ends with exit 1 and
    an error saying `says`, no traceback."""
    got = subprocess.run(
        cli("sim", "--config", str(PLANT), *args),
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 1, got.stderr
    assert says in got.stderr and "Traceback" not in got.stderr, got.stderr
