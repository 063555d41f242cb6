"""The What-if page's job registry (dashboard/whatif_jobs.py) with the real `shopfloor whatif`
subprocess: a finished experiment holds exactly what the CLI writes for the same config,
scenarios and seeds; a failing one holds the CLI's key-path error (no traceback); a stopped
one is stopped and its process gone; a second launch while one runs is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.whatif_jobs import (
    MAX_SIMULATED_DAYS,
    Busy,
    WhatifJobs,
    check_bounds,
    error_text,
)
from tests.support import GOLDEN, PLANT, run_cli, wait_for

SCENARIOS = """scenarios:
  - name: faster repair
    set:
      stations.cnc-01.mttr_min: 5
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture
def registry():
    reg = WhatifJobs(workers=1)
    yield reg
    reg.close()


def test_a_finished_experiment_holds_what_the_cli_writes(registry, tmp_path):
    (tmp_path / "sc.yaml").write_text(SCENARIOS)
    cli = run_cli("whatif", "--config", str(GOLDEN), "--scenarios", str(tmp_path / "sc.yaml"),
                  "--duration", "1d", "--warmup", "0", "--replications", "2", "--workers", "1",
                  "--no-progress", "--json", str(tmp_path / "cli.json"))  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    expected = json.loads((tmp_path / "cli.json").read_text())
    job = registry.start(GOLDEN.read_text(), scenarios_yaml=SCENARIOS, duration_s=86400,
                         warmup_s=0, replications=2)  # fmt: skip
    assert job.state == "running"
    done = registry.wait(120)
    assert done is not None and done.state == "done", done
    assert (done.done, done.total, done.failed_runs, done.exit_code) == (4, 4, 0, 0)
    got = done.result
    assert got is not None
    # Only the file names differ: the registry writes the config and scenarios to its own.
    for doc in (got, expected):
        doc["experiment"].pop("config")
        doc["experiment"].pop("scenarios_file")
    assert got == expected
    assert got["scenarios"][1]["name"] == "faster repair"


def test_a_bad_scenario_fails_with_the_cli_key_path_error(registry):
    bad = "scenarios:\n  - set:\n      stations.nope-01.mttr_min: 5\n"
    registry.start(GOLDEN.read_text(), scenarios_yaml=bad, duration_s=3600, warmup_s=0,
                   replications=2)  # fmt: skip
    job = registry.wait(60)
    assert job is not None and job.state == "failed" and job.exit_code == 1, job
    assert job.error is not None
    assert "scenarios[0].set.stations.nope-01.mttr_min" in job.error, job.error
    assert "Traceback" not in job.error and "INFO" not in job.error
    assert job.result is None


def test_stop_ends_the_subprocess_and_a_second_launch_is_refused(registry):
    # The demo plant for 60 days x 10 replications: minutes of work, stopped within seconds.
    job = registry.start(PLANT.read_text(), sensitivity_pct=10, duration_s=60 * 86400,
                         warmup_s=0, replications=10)  # fmt: skip
    assert job.pid is not None
    # Its progress file exists once the CLI has parsed everything and started its workers.
    wait_for(lambda: (registry.status() or job).total, 60, "the experiment's first progress")
    assert (registry.status() or job).state == "running"
    with pytest.raises(Busy):
        registry.start(PLANT.read_text(), scenarios_yaml=SCENARIOS, duration_s=3600,
                       warmup_s=0, replications=2)  # fmt: skip
    assert registry.cancel() is True
    stopped = registry.wait(30)
    assert stopped is not None and stopped.state == "stopped", stopped
    assert stopped.total is not None and stopped.done < stopped.total
    assert not _alive(job.pid)
    assert registry.cancel() is False  # nothing runs any more
    # Once stopped, the next one may start.
    again = registry.start(GOLDEN.read_text(), scenarios_yaml=SCENARIOS, duration_s=3600,
                           warmup_s=0, replications=2)  # fmt: skip
    assert again.id != job.id
    assert (registry.wait(60) or again).state == "done"


def test_an_experiment_ends_with_the_dashboard_process(tmp_path):
    """The dashboard's registry stops its experiment when the process exits (a supervisor's
    SIGTERM ends `shopfloor dash` normally; the experiment runs in its own session)."""
    script = (
        "import sys\n"
        "from dashboard.whatif_jobs import jobs\n"
        f"text = open({str(PLANT)!r}).read()\n"
        "job = jobs().start(text, sensitivity_pct=10, duration_s=60 * 86400, warmup_s=0,"
        " replications=10)\n"
        "print(job.pid, flush=True)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout.split()[0])
    wait_for(lambda: not _alive(pid), 20, "the experiment to end with its dashboard")


def test_bounds_name_the_field_that_is_too_large():
    assert check_bounds(7 * 86400, 86400, 5, 3) == []
    fields = {b.field for b in check_bounds(100 * 86400, 8 * 86400, 31, 201)}
    assert fields == {"duration", "warmup", "replications", "scenarios"}
    assert [b.field for b in check_bounds(86400, 0, 1, 2)] == ["replications"]
    # Each within its own limit, too much together: 100 scenarios x 30 x 90 days.
    (total,) = check_bounds(90 * 86400, 0, 30, 100)
    assert total.field == "total" and total.got == 270_000 > MAX_SIMULATED_DAYS


def test_error_text_drops_log_lines_and_tracebacks():
    log = "2026-11-29 21:59:49,573 INFO shopfloor.whatif: 2 scenarios x 3 replications\n"
    assert error_text(log + "shopfloor whatif: error: --start: bad\n", 1) == (
        "shopfloor whatif: error: --start: bad"
    )
    crash = 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom\n'
    assert error_text(crash, 2) == "RuntimeError: boom"
    assert error_text("", 9) == "exit code 9"
    usage = "usage: shopfloor whatif [-h] --config CONFIG\n      [--seed SEED]\n"
    assert error_text(usage + "shopfloor whatif: error: argument --seed: bad\n", 1) == (
        "shopfloor whatif: error: argument --seed: bad"
    )
