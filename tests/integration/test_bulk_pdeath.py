"""The bulk path's writer process dies with the simulating process even while it waits on a
busy SQLite store (shopfloor/cli/pdeath.py): it ignores SIGINT and SIGTERM and ends when its
pipe closes, but blocked in SQLite's busy wait (up to 30 s) it reads no pipe."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from shopfloor.store.sqlite import SqliteStore
from tests.integration.test_bulk_writer import NOW, START, alive, writers
from tests.support import PLANT, cli, pinned_env, wait_for

# x86_64 and aarch64 numbers of (clock_)nanosleep: SQLite's busy handler sleeping between tries.
SLEEPS = {"35", "230", "101", "115"}


def sleeping(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[0] in SLEEPS
    except (OSError, IndexError):
        return False


def test_a_writer_waiting_on_a_locked_store_dies_with_its_killed_parent(tmp_path):
    db = tmp_path / "bulk.db"
    SqliteStore(db).close()  # the schema there, so the command itself need not write first
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the store
    proc = subprocess.Popen(
        cli("sim", "--config", str(PLANT), "--fast", "--start", START, "--duration", "2d",
            "--store", f"sqlite:///{db}", "--jobs", "1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=pinned_env(NOW, frozen=True),
    )  # fmt: skip
    try:
        (writer,) = wait_for(lambda: writers(proc.pid), 60, "the writer process started")
        # Its main thread in SQLite's busy wait: it reads no pipe now.
        wait_for(lambda: sleeping(writer), 20, "the writer waiting on the lock")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        # Gone long before its 30 s busy timeout would end the wait (the lock stays held).
        wait_for(lambda: not alive(writer), 10, "the writer gone with its parent")
        assert time.monotonic() - killed < 10
        assert lock.in_transaction
    finally:
        proc.kill()
        proc.wait()
        lock.rollback()
        lock.close()
