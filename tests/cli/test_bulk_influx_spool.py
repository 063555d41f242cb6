"""`shopfloor sim --fast --store influxdb://...` (a bulk load, shopfloor/cli/bulk.py) keeps no
spool: it made ./data/influx-spool in whatever directory it was run from, a spool no process
would replay. A store that is down is refused at once, naming it, and the run directory stays
as it was. (No InfluxDB 2.x runs here; VictoriaMetrics answers no InfluxQL, which the bulk
path reads to seed from the store.)"""

from __future__ import annotations

import os
import subprocess

from shopfloor.broker import free_port
from tests.support import GOLDEN, ROOT, cli

START = "2026-11-23T06:00:00+07:00"


def bulk(store: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        cli("sim", "--config", str(GOLDEN), "--fast", "--start", START, "--duration", "30m",
            "--store", store),
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_bulk_load_to_a_down_influxdb_fails_at_once_and_leaves_no_spool(tmp_path):
    url = f"influxdb://127.0.0.1:{free_port()}/shopfloor?org=acme"
    done = bulk(url, tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert url in last and "no InfluxDB answers" in last, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []
