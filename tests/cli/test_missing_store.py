"""A read-only command given a SQLite store that does not exist (a mistyped path) refuses it
with one line naming the path, and creates nothing there."""

from __future__ import annotations

from tests.support import run_cli


def test_kpi_refuses_a_sqlite_store_that_does_not_exist(tmp_path):
    missing = tmp_path / "typo" / "shopfloor.db"
    done = run_cli("kpi", "--store", f"sqlite:///{missing}")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in done.stderr
    assert not missing.exists() and not missing.parent.exists()
