"""The bulk path's writer process (issue 15, shopfloor/cli/bulk.py): SQLite's inserts run in a
process of their own beside the simulation. Crash-only: a writer that dies ends the command
with exit 1 and a message naming it (no traceback); a command that dies takes its writer
with it (the writer ends when its pipe closes), so no process is left behind either way.

The equality of what the writer stores with what the collector stores from the same run
through a real broker is tests/integration/test_bulk.py's (it runs `shopfloor sim --fast
--store sqlite://`, which writes through this process).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

from shopfloor import clock
from shopfloor.cli.bulk import StoreSink
from shopfloor.config import load_config
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from tests.support import PLANT, ROOT, cli, pinned_env, wait_for

LARGE = ROOT / "config" / "large.yaml"
START = "2026-11-23T00:00+07:00"
START_MS = 1_795_366_800_000
NOW = "2026-12-30T00:00:00+07:00"  # the bulk path's clock (its future-ts check), after the run


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def alive(pid: int) -> bool:
    """Running (a zombie, dead and not yet reaped by its parent, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def writers(pid: int) -> list[int]:
    """The writer processes `pid` started, once they run the writer: a child caught between
    its fork and its exec still shows its parent's command line."""
    out = []
    for c in children(pid):
        try:
            if "shopfloor.cli.bulk" in Path(f"/proc/{c}/cmdline").read_text():
                out.append(c)
        except OSError:
            pass
    return out


def stored(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM samples").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def week_into(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`shopfloor sim --fast --store` of a week of the large plant into `db` (minutes of
    work), started with `args` and the clock pinned after it; its output piped."""
    return subprocess.Popen(
        cli("sim", "--config", str(LARGE), "--fast", "--start", START, "--duration", "7d",
            "--store", f"sqlite:///{db}", *args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**pinned_env(NOW, frozen=True), **(env or {})},
    )  # fmt: skip


def start_bulk(db: Path) -> tuple[subprocess.Popen, int]:
    """A week of the large plant into `db` (minutes of work) by one simulating process (its
    lines are not split: tests/integration/test_bulk_jobs.py splits them), once its writer
    process has stored a first batch: the command and its writer's pid."""
    proc = week_into(db, "--jobs", "1")
    try:
        (writer,) = wait_for(lambda: writers(proc.pid), 60, "the writer process started")
        assert children(proc.pid) == [writer]  # one process, one writer
        wait_for(lambda: stored(db) > 0, 120, "a first batch stored")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, writer


def test_a_writer_that_dies_ends_the_command_with_exit_1(tmp_path):
    db = tmp_path / "bulk.db"
    proc, writer = start_bulk(db)
    os.kill(writer, signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "writer process ended unexpectedly (exit code -9)" in err, err
    assert "Traceback" not in err, err
    assert not alive(writer)
    # What was stored before stays readable.
    assert stored(db) > 0


def test_a_command_that_dies_takes_its_writer_with_it(tmp_path):
    db = tmp_path / "bulk.db"
    proc, writer = start_bulk(db)
    proc.kill()
    proc.wait()
    # The writer finishes the batch it holds, if any, and ends when its pipe closes (its
    # parent gone, it is reparented: only its own exit ends it).
    wait_for(lambda: not alive(writer), 60, "the writer process ended")
    assert stored(db) > 0


def test_a_writer_that_fails_ends_the_run_with_its_error(tmp_path, monkeypatch):
    """In-process: a store whose file the writer cannot open (a directory where the file
    should be, made after the simulating side opened its own) ends the run with BulkError
    naming the writer's error, and leaves no writer behind."""
    from shopfloor.cli.bulk import BulkError

    cfg = load_config(PLANT)
    db = tmp_path / "bulk.db"
    store = SqliteStore(db)
    store.close()
    db.unlink()
    for p in tmp_path.glob("bulk.db-*"):
        p.unlink()
    db.mkdir()  # the writer's SqliteStore(db) cannot open a directory as its file
    monkeypatch.setenv(clock.ENV, NOW)
    sink = StoreSink(store, ShiftCalendar(cfg.shifts, cfg.plant.timezone), seed_from_store=False)
    writer = sink._proc._proc.pid
    try:
        run(cfg, sink, START_MS, 6 * 3600)
    except BulkError as exc:
        err = str(exc)
    else:
        raise AssertionError("the run ended without the writer's error")
    assert "cannot open" in err and str(db) in err, err
    assert not alive(writer)


def test_a_stop_signal_ends_the_run_with_a_prefix_of_the_stream_stored(tmp_path):
    """SIGTERM mid-run: the batch being written is finished, the rest dropped, the command
    exits at once without error and its writer with it; what is stored is a prefix of the
    stream, so every machine's seqs run 1..N without a hole (docs/history.md; a legacy
    machine's derived records carry their sample's seq)."""
    db = tmp_path / "bulk.db"
    proc, writer = start_bulk(db)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert not alive(writer)
    con = sqlite3.connect(db)
    try:
        seqs = con.execute(
            "SELECT machine, count(DISTINCT seq), min(seq), max(seq) FROM ("
            "SELECT machine, seq FROM states WHERE inferred = 0 UNION ALL "
            "SELECT machine, seq FROM counts UNION ALL SELECT machine, seq FROM energy "
            "UNION ALL SELECT machine, seq FROM samples) GROUP BY machine"
        ).fetchall()
    finally:
        con.close()
    assert len(seqs) == 225
    holes = {m: (n, lo, hi) for m, n, lo, hi in seqs if (lo, hi) != (1, n)}
    assert not holes, holes
    # Stopped well before the week's end: the writer did not write on to the end.
    assert sum(n for _, n, _, _ in seqs) < 5_000_000


def test_a_row_sqlite_refuses_is_left_out_and_the_rest_of_its_batch_stored(tmp_path):
    """The writer process's halving (as the collector's writer): a batch of rows with one
    SQLite cannot bind (an integer beyond 64 bits: the validation bounds them, the store must
    not rely on it) stores every other row, the refused one counted."""
    from collections import Counter

    from shopfloor.cli.bulk import _rows_halves, _rows_size, write_retrying
    from shopfloor.contract import TopicParts
    from shopfloor.store.sqlite import RowBuilder, bulk_rows

    b = RowBuilder()
    levels = {f"m{i}": TopicParts("e", "s", "a", "l", f"m{i}", "count") for i in range(3)}
    for i in range(3):
        for seq in range(1, 11):
            total = 2**70 if (i, seq) == (1, 7) else seq
            b.counts.append((f"m{i}", START_MS + seq * 1000, seq, total, total, 0))
    tables = (b.states, b.counts, b.energy, b.samples, b.materials, b.orders, b.ideals, [])
    rows = bulk_rows(tables, b.status, b.last, levels)
    store = SqliteStore(tmp_path / "x.db")
    rejected: Counter[str] = Counter()
    try:
        n = write_retrying(store.write_rows, rows, _rows_size(rows), _rows_halves, rejected)
        got = store.counter_at("count", START_MS + 60_000)
        machines = {m.machine: m.last_ts for m in store.machines()}
    finally:
        store.close()
    assert (n, rejected["store_rejected"]) == (29, 1)
    assert {m: v[1]["total"] for m, v in got.items()} == {"m0": 10, "m1": 10, "m2": 10}
    assert machines == {f"m{i}": START_MS + 10_000 for i in range(3)}
