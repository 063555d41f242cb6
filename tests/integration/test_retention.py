"""Retention (issue 15): the SQLite store pruned to a short raw retention still gives the
overview and energy pages' figures for ranges older than the cut, from its rollups.

Six days of config/plant.yaml (Monday 2026-11-02 00:00 in the plant to Sunday 00:00) are
written through `shopfloor sim --fast --store` (the collector's validation and write path).
A copy is pruned with a 2-day raw retention at a pinned "now" (the end of the run), so the
first four days keep only their rollups and quarter-end counter readings. Then:

- the reports of old ranges (a day, three days, a shift, a range across the cut) and the
  overview and energy pages' data over three old days equal the same reads before pruning;
- the first day's good parts and metered kWh equal the simulator's ground truth for that day
  (a separate one-day run with the same seed: the six-day stream starts with it);
- the raw rows before the cut are gone (samples all, state changes down to each machine's
  hour of its newest change, counters to one reading per machine and quarter hour);
- a collector-style write after pruning (a cold rollup cache, a new day continued from the
  store) gives that day's ground truth too;
- by hand, around one cut: which samples, state changes and counts stay, and that the hour
  rollup and the counters at quarter hours read as before; the rollup cut;
- `shopfloor collect --retention 2d` (a real broker, its clock pinned) prunes its store in the
  background as the Pruner does;
- `shopfloor collect --retention` names a bad value (exit 2, no traceback).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard import data
from dashboard.context import DashContext
from shopfloor.config import load_config
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Record
from shopfloor.store.report import report_from_store
from shopfloor.store.retention import Pruner, Retention, parse_retention
from shopfloor.store.sqlite import SqliteStore
from tests.support import PLANT, cli, instant_s, pinned_env, run_cli, running_broker, wait_for

START = "2026-11-02T00:00+07:00"  # a Monday in the plant
START_MS = int(instant_s("2026-11-02T00:00:00+07:00") * 1000)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
DAYS = 6
END_MS = START_MS + DAYS * DAY_MS
NOW = "2026-11-08T00:00:00+07:00"  # the end of the run: "now" for the write and the pruning
CUT_MS = END_MS - 2 * DAY_MS  # 2-day raw retention, a whole hour


def bulk(db: Path, *args: str, now: str = NOW) -> None:
    got = subprocess.run(
        cli("sim", "--config", str(PLANT), "--fast", "--store", f"sqlite:///{db}", *args),
        capture_output=True, text=True, timeout=600, env=pinned_env(now, frozen=True),
    )  # fmt: skip
    assert got.returncode == 0, got.stderr


def copy(src: Path, dst: Path) -> None:
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def count(db: Path, sql: str, *args: object) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(sql, args).fetchone()[0])
    finally:
        con.close()


def flat(d: object, at: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in flat(val, f"{at}.{key}").items()}
    if isinstance(d, list | tuple):
        return {k: v for i, val in enumerate(d) for k, v in flat(val, f"{at}[{i}]").items()}
    return {at: d}


def assert_same(got: object, want: object) -> None:
    g, w = flat(got), flat(want)
    g = {k: v for k, v in g.items() if not k.endswith(".store")}  # the file's own URL
    w = {k: v for k, v in w.items() if not k.endswith(".store")}
    assert g.keys() == w.keys()
    for k, v in w.items():
        # Sums of the same rollup rows, read through another connection: equal to the bit,
        # but allow SQLite's summation order.
        assert g[k] == (pytest.approx(v, rel=1e-12, abs=1e-9) if isinstance(v, float) else v), k


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retention")
    full, pruned = tmp / "full.db", tmp / "pruned.db"
    bulk(full, "--start", START, "--duration", f"{DAYS}d")
    bulk(tmp / "day1.db", "--start", START, "--duration", "1d", "--report", str(tmp / "day1.json"))
    copy(full, pruned)
    before = {
        t: count(pruned, f"SELECT count(*) FROM {t}")
        for t in ("samples", "states", "counts", "energy")
    }
    pruner = Pruner(
        pruned, Retention(2 * 86400.0, None), batch=2000, min_pause_s=0.0, pause_factor=0.0
    )
    stats = pruner.prune(END_MS)
    pruner.stop()
    truth = json.loads((tmp / "day1.json").read_text())
    return tmp, full, pruned, before, stats, truth


OLD_RANGES = [
    (START_MS, START_MS + DAY_MS),  # Monday
    (START_MS, START_MS + 3 * DAY_MS),  # Monday to Wednesday
    (START_MS + DAY_MS + 6 * HOUR_MS, START_MS + DAY_MS + 14 * HOUR_MS),  # Tuesday's shift A
    (CUT_MS - DAY_MS, CUT_MS + DAY_MS),  # across the cut
    (CUT_MS + 7 * HOUR_MS, CUT_MS + 15 * HOUR_MS),  # after the cut, all raw rows kept
]


def test_pruning_removed_the_old_raw_rows(stores):
    _, _, pruned, before, stats, _ = stores
    machines = count(pruned, "SELECT count(*) FROM machines")
    assert machines >= 10
    assert count(pruned, "SELECT count(*) FROM samples WHERE ts < ?", CUT_MS) == 0
    assert count(pruned, "SELECT count(*) FROM samples WHERE ts >= ?", CUT_MS) > 0
    # Each machine's newest change before the cut stays, with the rest of its hour.
    old_states = count(pruned, "SELECT count(*) FROM states WHERE ts < ?", CUT_MS)
    assert 0 < old_states < machines * 200
    quarters = (CUT_MS - START_MS) // 900_000
    for table in ("counts", "energy"):
        old = count(pruned, f"SELECT count(*) FROM {table} WHERE ts < ?", CUT_MS)
        assert 0 < old <= machines * quarters, table
        # One reading per machine and quarter at most.
        assert (
            count(
                pruned,
                f"SELECT max(n) FROM (SELECT count(*) AS n FROM {table} WHERE ts < ? "
                "GROUP BY machine, ts / 900000)",
                CUT_MS,
            )
            == 1
        )
    after = count(pruned, "SELECT count(*) FROM samples") + count(
        pruned, "SELECT count(*) FROM states"
    )
    assert after < (before["samples"] + before["states"]) * 0.45  # 2 of 6 days kept
    assert stats.total == sum(before.values()) - sum(
        count(pruned, f"SELECT count(*) FROM {t}") for t in before
    )
    # A second pass at the same instant finds nothing more (the marks).
    again = Pruner(pruned, Retention(2 * 86400.0, None), min_pause_s=0.0, pause_factor=0.0)
    assert again.prune(END_MS).total == 0
    again.stop()


@pytest.mark.parametrize("window", OLD_RANGES, ids=lambda w: f"{w[0]}-{w[1]}")
def test_old_reports_are_unchanged_by_pruning(stores, window):
    _, full, pruned, _, _, _ = stores
    cfg = load_config(PLANT)
    a, b = SqliteStore(full, read_only=True), SqliteStore(pruned, read_only=True)
    try:
        want = report_from_store(a, *window, cfg)
        got = report_from_store(b, *window, cfg)
    finally:
        a.close()
        b.close()
    assert want["plant"]["good_count"] > 0
    assert_same(got, want)


def test_first_day_equals_the_ground_truth_after_pruning(stores):
    _, _, pruned, _, _, truth = stores
    cfg = load_config(PLANT)
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    store = SqliteStore(pruned, read_only=True)
    try:
        got = report_from_store(store, START_MS, START_MS + DAY_MS, cfg)
    finally:
        store.close()
    checked = 0
    for mid, want in truth["machines"].items():
        if mid in legacy:
            continue
        have = got["machines"][mid]
        assert have["good_count"] == want["good_count"], mid
        assert have["energy_kwh"] == pytest.approx(want["energy_kwh"], abs=0.01), mid
        checked += 1
    assert checked >= 5
    assert sum(m["good_count"] for m in truth["machines"].values()) > 1000


def _pages(db: Path) -> tuple[data.Overview, data.Energy]:
    cfg = load_config(PLANT)
    tz = ZoneInfo(cfg.plant.timezone)
    store = SqliteStore(db, read_only=True)  # a new object: the pages' caches are per store
    ctx = DashContext(store, cfg, tz, ShiftCalendar(cfg.shifts, tz))
    spec = data.range_spec("custom", "2026-11-02T00:00", "2026-11-05T00:00")
    now = instant_s(NOW)
    try:
        return data.overview(ctx, spec, now), data.energy(ctx, spec, now)
    finally:
        store.close()


def test_overview_and_energy_pages_over_old_days_are_unchanged(stores):
    _, full, pruned, _, _, _ = stores
    (ov_a, en_a), (ov_b, en_b) = _pages(full), _pages(pruned)
    assert ov_a.error is None and en_a.error is None
    assert ov_b.error is None and en_b.error is None
    assert ov_a.report["plant"]["good_count"] > 0
    assert_same(ov_b.report, ov_a.report)
    assert_same([r for *_, r in ov_b.trend], [r for *_, r in ov_a.trend])
    assert en_a.demand_kw and sum(kw for _, kw in en_a.demand_kw) > 0
    for field in ("report", "by_state_kwh", "demand_kw", "line_kwh", "machine_kwh", "shifts"):
        assert_same(getattr(en_b, field), getattr(en_a, field))


def test_writes_after_pruning_give_the_ground_truth(stores, tmp_path):
    _, _, pruned, _, _, _ = stores
    db = tmp_path / "go-on.db"
    copy(pruned, db)
    # Monday after, continued from the pruned store (each machine's seq and meters go on;
    # the Sunday between has no shift).
    bulk(db, "--continue-from", f"sqlite:///{db}", "--start", "2026-11-09T00:00+07:00",
         "--duration", "1d", "--report", str(tmp_path / "day8.json"),
         now="2026-11-10T00:00:00+07:00")  # fmt: skip
    truth = json.loads((tmp_path / "day8.json").read_text())
    cfg = load_config(PLANT)
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    store = SqliteStore(db, read_only=True)
    try:
        got = report_from_store(store, END_MS + DAY_MS, END_MS + 2 * DAY_MS, cfg)
        old = report_from_store(store, START_MS, START_MS + DAY_MS, cfg)
    finally:
        store.close()
    for mid, want in truth["machines"].items():
        if mid in legacy:
            continue
        assert got["machines"][mid]["good_count"] == want["good_count"], mid
        assert got["machines"][mid]["energy_kwh"] == pytest.approx(want["energy_kwh"], abs=0.01)
        # Whole running hours of the new day come from the rollup rebuilt on a cold cache
        # (messages carry ms: each change rounds by up to half of one).
        assert got["machines"][mid]["running_s"] == pytest.approx(want["running_s"], abs=0.5)
    assert old["plant"]["good_count"] > 0  # the pruned days still read


@pytest.mark.parametrize(
    ("raw", "rollup", "words"),
    [
        ("banana", "400d", "'banana' is not a retention"),
        ("30m", "400d", "keep at least an hour"),
        ("30d", "10d", "at least the raw retention"),
    ],
)
def test_collect_names_a_bad_retention(raw, rollup, words, tmp_path):
    got = run_cli(
        "collect", "--broker", "mqtt://127.0.0.1:1", "--store", f"sqlite:///{tmp_path / 's.db'}",
        "--metrics-port", "0", "--retention", raw, "--rollup-retention", rollup,
    )  # fmt: skip
    assert got.returncode != 0
    assert words in got.stderr
    assert "Traceback" not in got.stderr


def test_parse_retention():
    assert parse_retention("30d", "x") == 30 * 86400
    assert parse_retention("2w", "x") == 14 * 86400
    assert parse_retention("forever", "x") is None
    with pytest.raises(ValueError, match="x: '0d'"):
        parse_retention("0d", "x")
    r = Retention(30 * 86400.0, 400 * 86400.0)
    raw, rollup = r.cuts(END_MS + 1234)
    assert raw == END_MS - 30 * DAY_MS and rollup == END_MS - 400 * DAY_MS
    assert Retention(None, 400 * 86400.0).cuts(END_MS) == (None, None)


def test_pruning_rules_by_hand(tmp_path):
    """One machine, written by hand around a cut at 10:00: what stays is worked out here."""
    cut = START_MS + 10 * HOUR_MS
    minute = 60_000
    seq = iter(range(1, 10_000))

    def rec(channel: str, ts: int, **payload: object) -> Record:
        return Record("e", "s", "a", "l", "m1", channel, ts, next(seq), {"ts": ts, **payload})

    records = [
        rec("state", cut - 3 * HOUR_MS + 10 * minute, state="running"),
        rec("state", cut - 2 * HOUR_MS + 5 * minute, state="idle"),
        rec("state", cut - 30 * minute, state="down", reason="jam"),
        rec("state", cut + 10 * minute, state="running"),
    ]
    # A count every 5 minutes from 08:00 to 11:00, a sample every minute.
    for i in range(37):
        records.append(rec("count", cut - 2 * HOUR_MS + i * 5 * minute, total=i, good=i, scrap=0))
    for i in range(180):
        records.append(rec("telemetry", cut - 2 * HOUR_MS + i * minute, power_kw=1.0))
    store = SqliteStore(tmp_path / "s.db")
    store.write(records)
    hours_before = store.state_hours(START_MS, START_MS + DAY_MS)
    counters = {
        t: store.counter_at("count", t - 1) for t in range(cut - 2 * HOUR_MS, cut + 1, 900_000)
    }
    # Now a day after the cut, a one-day raw retention: the cut is 10:00.
    pruner = Pruner(
        tmp_path / "s.db", Retention(86400.0, 400 * 86400.0), min_pause_s=0.0, pause_factor=0.0
    )
    stats = pruner.prune(cut + DAY_MS + 59 * minute)
    db = tmp_path / "s.db"
    # Samples before 10:00 go (120 of them), the 60 after stay.
    assert count(db, "SELECT count(*) FROM samples WHERE ts < ?", cut) == 0
    assert count(db, "SELECT count(*) FROM samples") == 60
    # The newest change before the cut is 09:30's (down): its hour stays, 07:10 and 08:05 go.
    kept = [ts for (ts,) in sqlite3.connect(db).execute("SELECT ts FROM states ORDER BY ts")]
    assert kept == [cut - 30 * minute, cut + 10 * minute]
    # Counts before 10:00: 8 quarters, each keeping its newest (the :10, :25, :40, :55 ones).
    old = [ts for (ts,) in sqlite3.connect(db).execute(
        "SELECT ts FROM counts WHERE ts < ? ORDER BY ts", (cut,))]  # fmt: skip
    assert old == [cut - 2 * HOUR_MS + (15 * q + 10) * minute for q in range(8)]
    assert {t: n for t, n in stats.deleted.items() if n} == {
        "samples": 120,
        "states": 2,
        "counts": 16,
    }
    pruner.stop()
    # The reads old ranges make are unchanged: the hour rollup and the counters at quarters.
    again = SqliteStore(db, read_only=True)
    assert again.state_hours(START_MS, START_MS + DAY_MS) == hours_before
    for t, want in counters.items():
        assert again.counter_at("count", t - 1) == want, t
    assert again.last_changes(cut)["m1"][1:] == ("down", "jam")
    again.close()
    # Rollups kept as long as the raw rows: before the cut only each machine's newest
    # counter reading stays (a range after the cut still has its baseline), no rollup rows.
    short = Pruner(db, Retention(86400.0, 86400.0), min_pause_s=0.0, pause_factor=0.0)
    short.prune(cut + DAY_MS + 59 * minute)
    short.stop()
    assert count(db, "SELECT count(*) FROM state_hours WHERE hour < ?", cut) == 0
    assert count(db, "SELECT count(*) FROM state_hours WHERE hour >= ?", cut) > 0
    assert [ts for (ts,) in sqlite3.connect(db).execute(
        "SELECT ts FROM counts WHERE ts < ?", (cut,))] == [cut - 5 * minute]  # fmt: skip
    store.close()


def test_the_collector_prunes_its_store(stores, tmp_path):
    """`shopfloor collect --retention 2d` against a real broker, its clock pinned at the end
    of the six days: its background pass prunes the copy as the Pruner did (no sample
    before the cut, the old reports unchanged)."""
    _, full, _, _, _, _ = stores
    db = tmp_path / "collected.db"
    copy(full, db)
    with running_broker() as broker:
        proc = subprocess.Popen(
            cli("collect", "--broker", broker.url, "--store", f"sqlite:///{db}",
                "--metrics-port", "0", "--retention", "2d", "--prune-every", "1s"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=pinned_env(NOW),
        )  # fmt: skip
        try:
            wait_for(
                lambda: count(db, "SELECT count(*) FROM samples WHERE ts < ?", CUT_MS) == 0,
                120,
                "the old samples pruned",
            )
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "raw rows kept 2 days, rollups 400 days" in err
    assert count(db, "SELECT count(*) FROM samples WHERE ts >= ?", CUT_MS) > 0
    cfg = load_config(PLANT)
    a, b = SqliteStore(full, read_only=True), SqliteStore(db, read_only=True)
    try:
        window = (START_MS, START_MS + DAY_MS)
        assert_same(report_from_store(b, *window, cfg), report_from_store(a, *window, cfg))
    finally:
        a.close()
        b.close()
