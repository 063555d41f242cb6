"""`shopfloor demo` as a user runs it: a subprocess in a temp folder, stopped with Ctrl-C."""

from __future__ import annotations

import base64
import re
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shopfloor.broker import free_port
from shopfloor.config import load_config
from shopfloor.store.sqlite import SqliteStore
from tests.support import BROKER_KINDS, MONDAY_1100, PLANT, SENT_ENERGY, cli, pinned_env, wait_for

PLANT_CFG = load_config(PLANT)
MACHINES = {st.id for _, st in PLANT_CFG.stations()}


def last_ts(db: Path) -> int:
    """The ts of the newest message the store holds of any machine."""
    store = SqliteStore(db, read_only=True)
    try:
        return max(m.last_ts for m in store.machines())
    finally:
        store.close()


def seqs(db: Path) -> dict[str, list[int]]:
    """Every seq the store holds per machine, over all channels (inferred states and estimated
    meter readings aside)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT machine, seq FROM counts "
            f"UNION ALL SELECT machine, seq FROM energy WHERE {SENT_ENERGY} "
            "UNION ALL SELECT machine, seq FROM samples "
            "UNION ALL SELECT machine, seq FROM states WHERE inferred = 0"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[int]] = {}
    for m, s in rows:
        out.setdefault(m, []).append(s)
    return {m: sorted(v) for m, v in out.items()}


def status(url: str, password: str | None = None) -> int | None:
    """The HTTP status of the page, with the demo's user and this password (or none)."""
    headers = {}
    if password is not None:
        token = base64.b64encode(f"shopfloor:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def password_of(tmp: Path) -> str | None:
    path = tmp / "data" / "dashboard-password"
    return path.read_text().strip() if path.exists() else None


def answers(url: str, tmp: Path) -> bool:
    """The dashboard serves the page to the demo's credentials (and to nobody else)."""
    password = password_of(tmp)
    return password is not None and status(url, password) == 200


def run_demo(
    tmp: Path, port: int, kind: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path]:
    """The demo as a user starts it; what it prints goes to a file the test can watch."""
    out = tmp / f"demo-{time.monotonic_ns()}.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            cli("demo", "--data-dir", str(tmp / "data"), "--port", str(port), "--broker-kind", kind),
            cwd=tmp, stdout=sink, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    return proc, out


def printed(out: Path) -> str:
    return out.read_text(errors="replace") if out.exists() else ""


def stop(proc: subprocess.Popen[bytes], out: Path) -> str:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode == 0, printed(out)
    assert time.monotonic() - t0 < 10, "Ctrl-C stops everything within 10 s"
    return printed(out)


# amqtt is what a fresh machine without mosquitto gets; it keeps no offline sessions.
@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_demo_runs_stops_cleanly_and_continues_on_restart(tmp_path, kind):
    port = free_port()
    db = tmp_path / "data" / "shopfloor.db"
    t0 = time.monotonic()
    # One clock for both runs, ticking from Monday 11:00: the backfill is shift A so far
    # (5 h), whatever the hour the test runs at; the second run goes on from the first.
    env = pinned_env(MONDAY_1100)
    proc, out_file = run_demo(tmp_path, port, kind, env)
    ready = f"dashboard ready: http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/", tmp_path), 60, "the dashboard")
        wait_for(
            lambda: (db.exists() and set(seqs(db)) == MACHINES) or None,
            60 - (time.monotonic() - t0),
            "every machine stored",
        )
        # The ready line comes once the backfill is stored (up to a shift's worth of history).
        wait_for(lambda: ready in printed(out_file), 120, "the ready line")
        at_ready = seqs(db)
        password = password_of(tmp_path)
        assert password and len(password) >= 20, password
        # Printed with the ready line, as Jupyter prints its token; kept for its owner only.
        assert f"{ready} (user shopfloor, password {password};" in printed(out_file)
        assert (tmp_path / "data" / "dashboard-password").stat().st_mode & 0o777 == 0o600
        assert status(f"http://127.0.0.1:{port}/") == 401
        assert status(f"http://127.0.0.1:{port}/", password + "x") == 401
        # Given through the environment: no command line (what `ps` shows) carries it.
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        assert "shopfloor.cli.main dash" in ps.stdout and password not in ps.stdout
        wait_for(
            lambda: all(len(seqs(db)[m]) > len(at_ready[m]) for m in MACHINES) or None,
            60,
            "live messages of every machine after the backfill",
        )
    finally:
        out = stop(proc, out_file)
    assert "backfill" in out and ready in out, out
    # Issue 15: the shift so far went straight into the store (`sim --fast --store`), the
    # rest through the broker; the seqs below show the handover left no hole and no repeat.
    assert "history" in out, out
    assert "records stored in sqlite:" in (tmp_path / "data" / "backfill.log").read_text()
    # The "backfill" bar counts what the live run catches up after the history (about half a
    # minute), not the shift's 5 h again; a fresh folder says nothing of continuing.
    totals = [int(t) for t in re.findall(r"backfill: *\d+%\|[^|]*\| *\d+/(\d+)", out)]
    assert totals and max(totals) <= 5, out
    assert "continuing" not in out, out
    first = seqs(db)
    first_end_ms = last_ts(db)
    for m, got in first.items():
        assert got == list(range(1, len(got) + 1)), f"{m}: the store has every seq, once"

    proc, out_file = run_demo(tmp_path, port, kind, env)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/", tmp_path), 60, "the dashboard again")
        # The same password as the first run, printed again.
        assert password_of(tmp_path) == password
        wait_for(lambda: ready in printed(out_file), 120, "the second ready line")
        again = re.search(r"password (\S+);", printed(out_file))
        assert again and again.group(1) == password
        # It says it goes on from the stored plant, from the minute the first run's data ends.
        ended = datetime.fromtimestamp(first_end_ms / 1000, ZoneInfo(PLANT_CFG.plant.timezone))
        said = f"continuing: {db} holds this plant up to {ended:%Y-%m-%d %H:%M:%S}"
        assert said in printed(out_file) and "goes on from there" in printed(out_file)
        wait_for(
            lambda: all(len(seqs(db)[m]) > len(first[m]) for m in MACHINES) or None,
            60,
            "new data for every machine",
        )
    finally:
        stop(proc, out_file)
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
