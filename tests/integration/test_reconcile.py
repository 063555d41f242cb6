"""`shopfloor reconcile` against a real broker and a running collector, as the compose stack's
test profile runs it; and its comparison catches a wrong number."""

from __future__ import annotations

import copy
import signal
import subprocess

from shopfloor.broker import free_port
from shopfloor.cli.reconcile import compare
from shopfloor.config import load_config
from tests.support import ROOT, cli, collector_subscribed, run_cli, running_broker, wait_for

RECONCILE = ROOT / "config" / "reconcile.yaml"


def test_reconcile_through_broker_collector_and_store(tmp_path):
    store = f"sqlite:///{tmp_path / 's.db'}"
    with running_broker() as broker:
        metrics = free_port()
        col = subprocess.Popen(
            cli("collect", "--broker", broker.url, "--store", store, "--metrics-port", str(metrics),
                "--client-id", "reconcile-test"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # As the compose stack's healthcheck does: publish once the collector listens.
            wait_for(lambda: collector_subscribed(metrics), 30, "the collector's subscription")
            first = run_cli("reconcile", "--config", str(RECONCILE), "--broker", broker.url,
                            "--store", store, "--duration", "3h", timeout=180)  # fmt: skip
            assert first.returncode == 0, first.stdout + first.stderr
            assert "OK: the store matches the simulator" in first.stdout
            # Again on the same store: it goes on after the first run, and still matches.
            again = run_cli("reconcile", "--config", str(RECONCILE), "--broker", broker.url,
                            "--store", store, "--duration", "2h", timeout=180)  # fmt: skip
            assert again.returncode == 0, again.stdout + again.stderr
        finally:
            col.send_signal(signal.SIGTERM)
            col.wait(30)


def test_compare_names_every_difference():
    cfg = load_config(RECONCILE)
    m = {"total_count": 10, "good_count": 9, "scrap_count": 1, "oee": 0.5, "energy_kwh": 2.0,
         "running_s": 100.0, **{f"{s}_s": 0.0 for s in ("idle", "starved", "blocked", "down", "setup", "planned_stop", "off")}}  # fmt: skip
    truth = {
        "machines": {"rc-cnc": dict(m), "rc-press": dict(m), "rc-pack": dict(m)},
        "lines": {"rc-line": {"good_count": 9, "oee": 0.5}},
    }
    assert compare(truth, copy.deepcopy(truth), cfg) == []
    got = copy.deepcopy(truth)
    got["machines"]["rc-cnc"]["good_count"] = 8
    got["machines"]["rc-pack"]["oee"] = 0.51
    got["machines"]["rc-press"]["running_s"] = 500.0  # legacy: inferred, but not this far off
    del got["lines"]["rc-line"]
    found = compare(truth, got, cfg)
    assert "rc-cnc.good_count: store 8, simulator 9" in found
    assert any(f.startswith("rc-pack.oee: store 0.51") for f in found)
    assert any(f.startswith("rc-press.running_s") for f in found)
    assert "line rc-line: not in the store" in found
