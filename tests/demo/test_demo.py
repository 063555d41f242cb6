"""`shopfloor demo` as a user runs it: a subprocess in a temp folder, stopped with Ctrl-C."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

import pytest

from shopfloor.broker import free_port
from shopfloor.config import load_config
from tests.support import BROKER_KINDS, PLANT, cli, wait_for

MACHINES = {st.id for _, st in load_config(PLANT).stations()}


def seqs(db: Path) -> dict[str, list[int]]:
    """Every seq the store holds per machine, over all channels (inferred states aside)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT machine, seq FROM counts UNION ALL SELECT machine, seq FROM energy "
            "UNION ALL SELECT machine, seq FROM samples "
            "UNION ALL SELECT machine, seq FROM states WHERE inferred = 0"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[int]] = {}
    for m, s in rows:
        out.setdefault(m, []).append(s)
    return {m: sorted(v) for m, v in out.items()}


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def run_demo(tmp: Path, port: int, kind: str) -> tuple[subprocess.Popen[str], float]:
    proc = subprocess.Popen(
        cli("demo", "--data-dir", str(tmp / "data"), "--port", str(port), "--broker-kind", kind),
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return proc, time.monotonic()


def stop(proc: subprocess.Popen[str]) -> str:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert time.monotonic() - t0 < 10, "Ctrl-C stops everything within 10 s"
    return out


# amqtt is what a fresh machine without mosquitto gets; it keeps no offline sessions.
@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_demo_runs_stops_cleanly_and_continues_on_restart(tmp_path, kind):
    port = free_port()
    db = tmp_path / "data" / "shopfloor.db"
    proc, t0 = run_demo(tmp_path, port, kind)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/"), 60, "the dashboard")
        wait_for(
            lambda: (db.exists() and set(seqs(db)) == MACHINES) or None,
            60 - (time.monotonic() - t0),
            "every machine stored",
        )
        time.sleep(2)  # live messages too
    finally:
        out = stop(proc)
    assert "backfill" in out and f"dashboard ready: http://127.0.0.1:{port}/" in out, out
    first = seqs(db)
    for m, got in first.items():
        assert got == list(range(1, len(got) + 1)), f"{m}: the store has every seq, once"

    proc, _ = run_demo(tmp_path, port, kind)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/"), 60, "the dashboard again")
        wait_for(
            lambda: all(len(seqs(db)[m]) > len(first[m]) for m in MACHINES) or None,
            60,
            "new data for every machine",
        )
    finally:
        stop(proc)
    for m, got in seqs(db).items():
        # The second run went on after the first one's last seq: no restart at 1, no hole.
        assert got == list(range(1, len(got) + 1)), m
        assert len(got) > len(first[m]), m
    con = sqlite3.connect(db)
    try:
        for table, column in (("counts", "total"), ("energy", "energy_kwh")):
            rows = con.execute(
                f"SELECT machine, {column} FROM {table} ORDER BY machine, ts, seq"
            ).fetchall()
            for (m1, a), (m2, b) in pairwise(rows):
                # A KPI over a range spanning both runs subtracts readings: they never step back.
                assert m1 != m2 or b >= a, (table, m1, a, b)
    finally:
        con.close()
