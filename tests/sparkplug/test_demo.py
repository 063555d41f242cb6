"""`shopfloor demo --encoding sparkplug`: the whole stack with Sparkplug B on the wire, as a
user starts it; the store gets every machine's backfill and live data, every seq once, and
Ctrl-C stops it cleanly with every machine offline."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from shopfloor.broker import find_mosquitto, free_port
from tests.demo.test_demo import MACHINES, answers, printed, seqs
from tests.support import MONDAY_1100, cli, pinned_env, wait_for


@pytest.mark.skipif(not find_mosquitto(), reason="Mosquitto is not installed")
def test_the_demo_runs_on_sparkplug(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "data" / "shopfloor.db"
    out = tmp_path / "demo.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            cli("demo", "--data-dir", str(tmp_path / "data"), "--port", str(port),
                "--broker-kind", "mosquitto", "--encoding", "sparkplug"),
            cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, env=pinned_env(MONDAY_1100),
        )  # fmt: skip
    ready = f"dashboard ready: http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/", tmp_path), 60, "the dashboard")
        wait_for(lambda: ready in printed(out), 120, "the ready line")
        # Its own print after the ready line's: read at once, the output could hold the one
        # and not yet the other.
        sparkplug = "Sparkplug B: spBv1.0/acme-vn:hcm/#"
        wait_for(lambda: sparkplug in printed(out), 30, "the Sparkplug B line")
        at_ready = seqs(db)
        assert set(at_ready) == MACHINES
        wait_for(
            lambda: all(len(seqs(db)[m]) > len(at_ready[m]) for m in MACHINES) or None,
            60,
            "live messages of every machine after the backfill",
        )
    finally:
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, printed(out)
    assert time.monotonic() - t0 < 10, "Ctrl-C stops everything within 10 s"
    for m, got in seqs(db).items():
        assert got == list(range(1, len(got) + 1)), f"{m}: the store has every seq, once"
    con = sqlite3.connect(db)
    try:
        # Each machine's DDEATH (and its line's NDEATH) reached the store: offline.
        assert {o for (o,) in con.execute("SELECT online FROM machines")} == {0}
    finally:
        con.close()
    dead = tmp_path / "data" / "dead-letter.jsonl"
    assert not dead.exists() or dead.read_text() == "", dead.read_text()
