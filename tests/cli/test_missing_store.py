"""A read-only command given a SQLite store that does not exist (a mistyped path) refuses it
with one line naming the path, and creates nothing there; the dashboard, which may start
before its collector, warns instead."""

from __future__ import annotations

import signal
import subprocess
import urllib.request

from shopfloor.broker import free_port
from tests.support import cli, run_cli, wait_for


def test_kpi_refuses_a_sqlite_store_that_does_not_exist(tmp_path):
    missing = tmp_path / "typo" / "shopfloor.db"
    done = run_cli("kpi", "--store", f"sqlite:///{missing}")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in done.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_dash_warns_of_a_sqlite_store_that_does_not_exist_yet(tmp_path):
    """The dashboard may start before its collector, so it is not refused; it says so."""
    missing = tmp_path / "later.db"
    port = free_port()
    proc = subprocess.Popen(
        cli("dash", "--store", f"sqlite:///{missing}", "--port", str(port), "--no-auth"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port) or proc.poll() is not None, 60, "dashboard answers")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    warned = [line for line in err.splitlines() if "does not exist yet" in line]
    assert len(warned) == 1 and str(missing) in warned[0] and "WARNING" in warned[0], err


def _answers(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200
    except OSError:
        return False
