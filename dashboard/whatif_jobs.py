"""The What-if page's experiments: one `shopfloor whatif` subprocess at a time per dashboard
process, its progress and its result kept here, server-side, for the page to poll.

The experiment runs as a subprocess of the CLI (docs/whatif.md), never in a request thread and
never imported: dashboard/ must not import simulator/ (docs/architecture.md, the import rule).
The subprocess reports each finished run on `--progress-jsonl` and writes the result with
`--json`; a watcher thread waits for it to exit and settles the job. A failed experiment keeps
the CLI's own error text (its key-path errors for a bad scenario), never a traceback.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

log = logging.getLogger("shopfloor.dash.whatif")

# The CLI's exit codes (shopfloor/cli/whatif_cmd.py): some runs failed but the rest are
# reported; stopped by a signal.
EXIT_RUNS_FAILED = 70
EXIT_STOPPED = 130
# Bounds on what one page may ask of the server (the CLI itself takes any size): a run costs
# about a third of a second per simulated day of the demo plant on one core (measured), so
# the cap on the whole experiment keeps it to minutes, not a day.
MAX_DURATION_S = 90 * 86400.0
MAX_WARMUP_S = 7 * 86400.0
MIN_REPLICATIONS = 2
MAX_REPLICATIONS = 30
MAX_SCENARIOS = 200
MAX_SIMULATED_DAYS = 2000.0
# How long a stopped subprocess gets to end its workers before it is killed outright.
STOP_GRACE_S = 10.0
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING) ")


class Busy(RuntimeError):
    """An experiment is already running in this dashboard."""


@dataclass(frozen=True)
class Bounds:
    """A problem with the experiment's size: the field it names and the limit it broke."""

    field: str  # duration, warmup, replications, scenarios, total
    limit: float
    got: float


def check_bounds(
    duration_s: float, warmup_s: float, replications: int, scenarios: int
) -> list[Bounds]:
    """Every size limit the experiment breaks (empty: it may run). `scenarios` counts the
    baseline; the total is the simulated days of every run together."""
    problems = []
    if not 0 < duration_s <= MAX_DURATION_S:
        problems.append(Bounds("duration", MAX_DURATION_S, duration_s))
    if not 0 <= warmup_s <= MAX_WARMUP_S:
        problems.append(Bounds("warmup", MAX_WARMUP_S, warmup_s))
    if not MIN_REPLICATIONS <= replications <= MAX_REPLICATIONS:
        problems.append(Bounds("replications", MAX_REPLICATIONS, replications))
    if scenarios > MAX_SCENARIOS:
        problems.append(Bounds("scenarios", MAX_SCENARIOS, scenarios))
    days = scenarios * replications * (duration_s + max(warmup_s, 0.0)) / 86400.0
    if not problems and days > MAX_SIMULATED_DAYS:
        problems.append(Bounds("total", MAX_SIMULATED_DAYS, days))
    return problems


@dataclass(frozen=True)
class Job:
    """One experiment as the page sees it (a snapshot: the registry replaces it as it moves)."""

    id: str
    kind: str  # "scenarios" or "sensitivity"
    state: str  # running, done, failed, stopped
    done: int = 0
    total: int | None = None
    failed_runs: int = 0
    exit_code: int | None = None
    pid: int | None = None  # the CLI's process
    error: str | None = None  # the CLI's error text, for state "failed"
    result: dict[str, Any] | None = field(default=None, repr=False)  # the --json document

    @property
    def finished(self) -> bool:
        return self.state != "running"


def error_text(stderr: str, exit_code: int) -> str:
    """What the CLI said when it failed, without its log lines; a crash's traceback reduced to
    its last line (the exception), so a page never shows a traceback."""
    lines: list[str] = []
    usage = False
    for ln in stderr.splitlines():
        # argparse's usage block (the line and its indented continuation) says nothing the
        # error line after it does not.
        usage = ln.startswith("usage:") or (usage and ln.startswith(" "))
        if ln.strip() and not usage and not _LOG_LINE.match(ln):
            lines.append(ln)
    if any(ln.startswith("Traceback (most recent call last)") for ln in lines):
        return lines[-1].strip()
    text = "\n".join(lines).strip()
    return text or f"exit code {exit_code}"


class WhatifJobs:
    """The dashboard's experiments: at most one running; the newest one's status kept until
    the next starts."""

    def __init__(self, python: str = sys.executable, workers: int | None = None) -> None:
        self.python = python
        # Half the cores by default: the dashboard keeps answering its pages while it runs.
        self.workers = workers or max(1, (os.cpu_count() or 1) // 2)
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._stopping = False

    # -- starting ------------------------------------------------------------------------------

    def start(
        self,
        config_yaml: str,
        *,
        scenarios_yaml: str | None = None,
        sensitivity_pct: float | None = None,
        duration_s: float,
        warmup_s: float,
        replications: int,
        seed: int | None = None,
    ) -> Job:
        """Launch `shopfloor whatif` on the config (YAML text) and the scenario file (YAML
        text) or a sensitivity run; raises Busy while another experiment runs."""
        if (scenarios_yaml is None) == (sensitivity_pct is None):
            raise ValueError("give scenarios_yaml or sensitivity_pct, not both")
        with self._lock:
            if self._job is not None and not self._job.finished:
                raise Busy("an experiment is already running")
            self._cleanup()
            work = Path(tempfile.mkdtemp(prefix="shopfloor-whatif-"))
            (work / "plant.yaml").write_text(config_yaml, encoding="utf-8")
            argv = [
                self.python, "-m", "shopfloor.cli.main", "whatif",
                "--config", str(work / "plant.yaml"),
                "--duration", f"{max(1, round(duration_s))}s",
                "--warmup", f"{round(warmup_s)}s" if round(warmup_s) > 0 else "0",
                "--replications", str(replications),
                "--workers", str(self.workers),
                "--json", str(work / "result.json"),
                "--progress-jsonl", str(work / "progress.jsonl"),
                "--no-progress",
            ]  # fmt: skip
            if scenarios_yaml is not None:
                (work / "scenarios.yaml").write_text(scenarios_yaml, encoding="utf-8")
                argv += ["--scenarios", str(work / "scenarios.yaml")]
                kind = "scenarios"
            else:
                argv += ["--sensitivity", f"{sensitivity_pct:g}"]
                kind = "sensitivity"
            if seed is not None:
                argv += ["--seed", str(seed)]
            stderr = open(work / "stderr.txt", "wb")  # noqa: SIM115 (closed by the watcher)
            # Its own session: a stop reaches the CLI and, if it lingers, its workers too.
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=work,
                start_new_session=True,
            )
            self._dir = work
            self._stopping = False
            job = Job(uuid.uuid4().hex[:12], kind, "running", pid=self._proc.pid)
            self._job = job
            log.info("what-if experiment %s started (pid %d)", job.id, self._proc.pid)
            threading.Thread(
                target=self._watch, args=(job.id, self._proc, stderr, work), daemon=True
            ).start()
            return job

    # -- watching ------------------------------------------------------------------------------

    def _watch(self, job_id: str, proc: subprocess.Popen[bytes], stderr: Any, work: Path) -> None:
        code = proc.wait()
        stderr.close()
        with self._lock:
            job = self._job
            if job is None or job.id != job_id:
                return
            done, total, failed = _progress(work / "progress.jsonl")
            job = replace(job, done=done, total=total, failed_runs=failed, exit_code=code)
            result_file = work / "result.json"
            if code in (0, EXIT_RUNS_FAILED) and result_file.exists():
                try:
                    result = json.loads(result_file.read_text(encoding="utf-8"))
                    job = replace(job, state="done", result=result)
                except (OSError, ValueError) as exc:
                    job = replace(job, state="failed", error=f"unreadable result: {exc}")
            elif self._stopping or code in (EXIT_STOPPED, -signal.SIGTERM, -signal.SIGKILL):
                job = replace(job, state="stopped")
            else:
                text = (work / "stderr.txt").read_text(encoding="utf-8", errors="replace")
                job = replace(job, state="failed", error=error_text(text, code))
            self._job = job
            self._proc = None
            self._cleanup()  # the result is held in memory now
        log.info("what-if experiment %s %s (exit %d)", job_id, job.state, code)

    def status(self) -> Job | None:
        """The newest experiment, its progress read now while it runs."""
        with self._lock:
            job = self._job
            if job is None or job.finished or self._dir is None:
                return job
            done, total, failed = _progress(self._dir / "progress.jsonl")
            return replace(job, done=done, total=total, failed_runs=failed)

    def cancel(self) -> bool:
        """Stop the running experiment (SIGTERM: the CLI ends its workers and writes nothing;
        killed if it has not ended after STOP_GRACE_S). False when nothing runs."""
        with self._lock:
            proc = self._proc
            if proc is None or self._job is None or self._job.finished:
                return False
            self._stopping = True
        try:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_GRACE_S)
        except ProcessLookupError:
            pass
        return True

    def wait(self, timeout_s: float) -> Job | None:
        """Block until the experiment has settled (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.status()
            if job is None or job.finished:
                return job
            time.sleep(0.05)
        return self.status()

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self) -> None:
        self.cancel()
        with self._lock:
            self._cleanup()


def _progress(path: Path) -> tuple[int, int | None, int]:
    """(done, total, failed) from the newest complete line of --progress-jsonl."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return 0, None, 0
    for line in reversed(text.splitlines()):
        try:
            p = json.loads(line)
            return int(p["done"]), int(p["total"]), int(p.get("failed", 0))
        except (ValueError, KeyError, TypeError):
            continue  # a line being written
    return 0, None, 0


_JOBS: WhatifJobs | None = None
_JOBS_LOCK = threading.Lock()


def jobs() -> WhatifJobs:
    """The dashboard process's one registry (made on first use). An experiment still running
    when the dashboard exits is stopped with it: it runs in its own session, so no signal
    sent to the dashboard alone (a supervisor's SIGTERM) would reach it."""
    global _JOBS
    with _JOBS_LOCK:
        if _JOBS is None:
            _JOBS = WhatifJobs()
            atexit.register(_JOBS.close)
        return _JOBS
