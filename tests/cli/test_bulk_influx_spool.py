"""`shopfloor sim --fast --store influxdb://...` (a bulk load, shopfloor/cli/bulk.py) keeps no
spool: it made ./data/influx-spool in whatever directory it was run from, a spool no process
would replay. A store that is down is refused at once, naming it, and the run directory stays
as it was. (No InfluxDB 2.x runs here; VictoriaMetrics answers no InfluxQL, which the bulk
path reads to seed from the store.)"""

from __future__ import annotations

import os
import subprocess

import pytest

from shopfloor.broker import free_port
from shopfloor.store import StoreError, open_store
from shopfloor.store.base import Record
from tests.servers import VictoriaMetrics, victoria_path
from tests.support import GOLDEN, ROOT, cli, wait_for

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


@pytest.mark.skipif(victoria_path() is None, reason="needs victoria-metrics")
def test_a_store_without_spool_raises_when_its_server_goes_away_and_writes_no_file(
    tmp_path, monkeypatch
):
    """open_store(url, spool_dir=None), as the bulk path opens it: a write reaches a live
    server; once the server is gone a write raises StoreError after one try (the bulk path
    retries it with backoff), and no spool folder appears anywhere."""
    monkeypatch.chdir(tmp_path)
    vm = VictoriaMetrics(tmp_path).start()
    store = open_store(vm.url, spool_dir=None)
    try:
        store.write([energy(1)])
        wait_for(lambda: vm.count('{__name__="energy_energy_kwh"}') == 1, 30, "the point stored")
        vm.stop()
        with pytest.raises(StoreError, match="no spool"):
            store.write([energy(2)])
    finally:
        store.close()
        vm.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm-data", "vm.log"]


def energy(seq: int) -> Record:
    ts = 1_795_399_200_000 + seq * 1000
    return Record(
        "acme", "hcm", "a", "l1", "m1", "energy", ts, seq, {"ts": ts, "seq": seq, "energy_kwh": 1.0}
    )
