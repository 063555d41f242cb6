"""`shopfloor sim --fast --store --jobs N` (issue 15, shopfloor/cli/sim_jobs.py): the plant's
lines simulated in N processes, each writing its own machines into the one store.

What it stores is what one process stores, table for table (which tests/integration/
test_bulk.py holds equal to what the collector stores from a real broker), and the store's
report equals the simulator's ground truth. Crash-only: a stop is passed to every part and
leaves a prefix of each machine's stream; a part that dies ends the run with exit 1 and the
others with it; a run killed outright leaves no part behind.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from shopfloor.config import load_config
from shopfloor.store.report import report_from_store
from shopfloor.store.sqlite import SqliteStore
from tests.integration.test_bulk import (
    END_MS,
    HOURS,
    START,
    START_MS,
    TABLES,
    bulk,
    flat,
    refused,
    rows,
)
from tests.integration.test_bulk_writer import alive, children, stored, week_into
from tests.support import PLANT, wait_for


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """The demo plant's 8 hours (three lines) into SQLite by one process (with the ground
    truth) and by two."""
    tmp = tmp_path_factory.mktemp("jobs")
    args = ("--start", START, "--duration", f"{HOURS}h")
    one = bulk(*args, "--store", f"sqlite:///{tmp / 'one.db'}", "--report", str(tmp / "truth.json"))
    assert one.returncode == 0, one.stderr
    two = bulk(*args, "--store", f"sqlite:///{tmp / 'two.db'}", "--jobs", "2")
    assert two.returncode == 0, two.stderr
    return tmp, two.stderr


def test_two_processes_say_so_and_sum_up_the_run(split):
    _, err = split
    assert "simulating 3 lines in 2 processes (1, 2 lines each)" in err, err
    # The parts' own summaries, then the whole run's: every message of the plant.
    summary = [line for line in err.splitlines() if "by 2 processes" in line]
    assert len(summary) == 1, err
    parts = [int(line.split("bulk: ")[-1].split()[0]) for line in err.splitlines()
             if "shopfloor.bulk: bulk:" in line]  # fmt: skip
    assert len(parts) == 2 and all(n > 1000 for n in parts), err
    assert f"bulk: {sum(parts)} messages" in summary[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("table", sorted(TABLES))
def test_two_processes_store_what_one_stores(split, table):
    tmp, _ = split
    got, want = rows(tmp / "two.db", table), rows(tmp / "one.db", table)
    assert got == want
    assert want or table in ("materials", "orders")


def test_the_store_written_by_two_processes_reports_the_ground_truth(split):
    tmp, _ = split
    cfg = load_config(PLANT)
    truth = json.loads((tmp / "truth.json").read_text())
    reports = {}
    for name in ("one", "two"):
        store = SqliteStore(tmp / f"{name}.db", read_only=True)
        try:
            reports[name] = report_from_store(store, START_MS, END_MS + 1, cfg)
        finally:
            store.close()
    want, got = flat(reports["one"]), flat(reports["two"])
    assert got.keys() == want.keys()
    for k, v in want.items():
        if not k.endswith(".store"):
            assert got[k] == (
                pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v
            ), k
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    for mid, want_m in truth["machines"].items():
        if mid not in legacy:
            have = reports["two"]["machines"][mid]
            assert have["good_count"] == want_m["good_count"], mid
            assert have["energy_kwh"] == pytest.approx(want_m["energy_kwh"], abs=0.01), mid
    assert sum(m["good_count"] for m in truth["machines"].values()) > 100


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--jobs", "2", "--duration", "1h"), "--jobs splits a history written with --fast --store"),
        (("--fast", "--duration", "1h", "--jobs", "0", "--store", "sqlite:///x.db"),
         "--jobs: must be >= 1"),
        (("--fast", "--duration", "1h", "--jobs", "2", "--store", "sqlite:///x.db",
          "--report", "r.json"), "--report needs the whole plant in one process"),
        (("--fast", "--duration", "1h", "--jobs", "2", "--store", "sqlite:///x.db",
          "--jsonl", "m.jsonl"), "--jsonl needs the whole plant in one process"),
        (("--fast", "--duration", "1h", "--jobs", "2", "--store", "influxdb1://127.0.0.1:9/x"),
         "--jobs splits a load into SQLite only"),
        (("--fast", "--duration", "1h", "--jobs", "2", "--jsonl-dir", "out"),
         "--jsonl-dir needs the whole plant in one process"),
    ],
)  # fmt: skip
def test_jobs_options_are_checked(tmp_path, args, says):
    refused(tmp_path, args, says)
    assert not (tmp_path / "x.db").exists()


# -- crash-only -----------------------------------------------------------------------------


def seq_runs(db: Path) -> list[tuple[str, int, int, int]]:
    """Per machine: its distinct stored seqs, the lowest and the highest."""
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT machine, count(DISTINCT seq), min(seq), max(seq) FROM ("
            "SELECT machine, seq FROM states WHERE inferred = 0 UNION ALL "
            "SELECT machine, seq FROM counts UNION ALL SELECT machine, seq FROM energy "
            "UNION ALL SELECT machine, seq FROM samples) GROUP BY machine"
        ).fetchall()
    finally:
        con.close()


def both_writing(pid: int) -> list[int] | None:
    """The two parts' pids once each has started its writer process."""
    parts = children(pid)
    return parts if len(parts) == 2 and all(children(p) for p in parts) else None


def machines_stored(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT count(DISTINCT machine) FROM samples").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def start_parts(db: Path) -> tuple[subprocess.Popen, list[int]]:
    """A week of the large plant (minutes of work) by two processes, once both parts have
    started their writers and each has stored a first batch: the command and its parts'
    pids. Its temporary files go under the test's folder."""
    proc = week_into(db, "--jobs", "2", env={"TMPDIR": str(db.parent)})
    try:
        parts = wait_for(lambda: both_writing(proc.pid), 60, "two parts, each with its writer")
        wait_for(lambda: machines_stored(db) == 225, 120, "a first batch of each part stored")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, parts


def family(parts: list[int]) -> list[int]:
    return [*parts, *(w for p in parts for w in children(p))]


def test_a_stop_ends_every_part_with_a_prefix_of_each_stream_stored(tmp_path):
    db = tmp_path / "bulk.db"
    proc, parts = start_parts(db)
    everyone = family(parts)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped early" in err, err
    wait_for(lambda: not any(alive(p) for p in everyone), 30, "every part and writer ended")
    seqs = seq_runs(db)
    assert len(seqs) == 225
    holes = {m: (n, lo, hi) for m, n, lo, hi in seqs if (lo, hi) != (1, n)}
    assert not holes, holes
    assert sum(n for _, n, _, _ in seqs) < 5_000_000  # stopped well before the week's end


def test_a_part_that_dies_ends_the_run_with_exit_1_and_the_other_part(tmp_path):
    db = tmp_path / "bulk.db"
    proc, parts = start_parts(db)
    everyone = family(parts)
    os.kill(parts[0], signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "the part of the plant with lines line-" in err and "killed by signal 9" in err, err
    assert "Traceback" not in err, err
    wait_for(lambda: not any(alive(p) for p in everyone), 30, "every part and writer ended")
    # The other part stored a prefix of each of its machines' streams.
    holes = {m: (n, lo, hi) for m, n, lo, hi in seq_runs(db) if (lo, hi) != (1, n)}
    assert not holes, holes


def test_a_run_killed_outright_leaves_no_part_behind(tmp_path):
    db = tmp_path / "bulk.db"
    proc, parts = start_parts(db)
    everyone = family(parts)
    proc.kill()
    proc.wait()
    # Each part is told to stop by the kernel (its parent-death signal) and ends.
    wait_for(lambda: not any(alive(p) for p in everyone), 60, "every part and writer ended")
    assert stored(db) > 0


def test_a_stop_while_the_parts_start_is_a_stop_not_a_failure(tmp_path):
    """SIGTERM as soon as the parts exist (still importing, their writers not started): exit
    0, no traceback, nothing left running."""
    db = tmp_path / "bulk.db"
    proc = week_into(db, "--jobs", "2", env={"TMPDIR": str(tmp_path)})
    try:
        parts = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), 60, "parts")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "error" not in err, err
    wait_for(lambda: not any(alive(p) for p in parts), 30, "every part ended")
    assert not list(tmp_path.glob("shopfloor-sim-jobs-*"))  # its temporary folder removed


def test_continuing_an_uneven_store_starts_each_part_where_its_lines_end(tmp_path):
    """A store whose lines end at different times (what a stopped split run leaves: here
    made by running the lines apart): `--continue-from` with --jobs goes on from each line's
    own end, so no line keeps a gap; one process says it would leave one."""
    db = tmp_path / "u.db"
    url = f"sqlite:///{db}"
    ahead = bulk("--start", START, "--duration", "4h", "--store", url, "--lines", "machining-1")
    behind = bulk("--start", START, "--duration", "2h", "--store", url,
                  "--lines", "molding-1,assembly-1")  # fmt: skip
    assert ahead.returncode == 0 and behind.returncode == 0, ahead.stderr + behind.stderr
    one = bulk("--start", START, "--duration", "1h", "--continue-from", url, "--jobs", "1",
               "--store", f"sqlite:///{tmp_path / 'other.db'}")  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert "lines molding-1, assembly-1 are stored only up to earlier" in one.stderr, one.stderr
    two = bulk("--start", START, "--duration", "1h", "--continue-from", url, "--jobs", "2",
               "--store", url)  # fmt: skip
    assert two.returncode == 0, two.stderr
    con = sqlite3.connect(db)
    try:
        spans = con.execute(
            "SELECT machine, min(ts), max(ts), count(*), max(gap) FROM ("
            "SELECT machine, ts, ts - lag(ts) OVER (PARTITION BY machine ORDER BY ts) AS gap "
            "FROM samples) GROUP BY machine"
        ).fetchall()
    finally:
        con.close()
    cfg = load_config(PLANT)
    every = 1000 * cfg.telemetry.sample_interval_s
    assert len(spans) == len(list(cfg.stations()))
    for machine, lo, hi, _n, widest in spans:
        # Every line from the start to the same end (the furthest line's end and an hour),
        # with no sample missing in between (a restart may shift the grid by one interval).
        assert lo == START_MS and hi >= START_MS + 5 * 3_600_000 - every, machine
        assert widest <= 2 * every, (machine, widest)
    holes = {m: (n, lo, hi) for m, n, lo, hi in seq_runs(db) if (lo, hi) != (1, n)}
    assert not holes, holes
