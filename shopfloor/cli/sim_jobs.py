"""`shopfloor sim --fast --store URL --jobs N` (issue 15): the history written by N processes,
each simulating a share of the plant's lines (docs/history.md, Speed).

Why: the bulk path's work per message (simulating, validating, building the rows, the
store's inserts and rollups) is close to four times the simulator's own, and one simulating
process feeds one writer: on a 2-core machine the simulating process was the critical path
at 2.3x the simulator alone, with the second core idle a third of the time. Split by line,
the work spreads over every core.

It changes nothing stored: every random stream is named after the line and station it
drives and lines share nothing but the shift calendar (shopfloor/shard.py), so each part
sends exactly what its machines send in a run of the whole plant, and each part's bulk sink
validates, sequences and rolls up its own machines, as in one process (tests/integration/
test_bulk_jobs.py compares every table). Each part is a `shopfloor sim --lines ...` of its
own, started with everything this run resolved (the start, the duration, the seed, where
each machine goes on from), so the parts cover exactly the same range.

A stop (Ctrl-C, SIGTERM) is passed to every part: each stores a prefix of its machines'
streams and ends. A part that fails ends the others the same way and the run with exit 1. A
part outlives no parent: the kernel sends it SIGTERM when this process dies (prctl).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from shopfloor.cli.errors import UserError
from shopfloor.cli.pdeath import die_with_parent
from shopfloor.report import merge_reports
from shopfloor.timeparse import format_duration

log = logging.getLogger("shopfloor.sim")


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_lines(cfg: Any, jobs: int) -> list[list[str]]:
    """The plant's lines in `jobs` parts of about equal work (machines count: a machine's
    messages are mostly its samples, at the plant's one rate), each part in config order."""
    load = [0] * jobs
    part_of: dict[str, int] = {}
    for line in sorted(cfg.lines, key=lambda ln: -len(ln.stations)):
        k = load.index(min(load))
        part_of[line.id] = k
        load[k] += len(line.stations)
    parts = [[ln.id for ln in cfg.lines if part_of[ln.id] == k] for k in range(jobs)]
    return [p for p in parts if p]


def _start_part(argv: list[str], parent: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        # The part's standard input is not ours to share; its log goes where ours goes.
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: die_with_parent(parent, signal.SIGTERM),
    )


def run_jobs(
    args: Any,
    cfg: Any,
    start_ms: int,
    duration_s: float,
    resume: dict[str, Any] | None,
    jobs: int,
) -> int:
    """Runs `shopfloor sim` over the plant's lines in `jobs` processes (see the module's
    docstring); logs one summary of the whole run as one process would."""
    from shopfloor.store import StoreError, open_store

    try:
        # One clear error for a store that cannot be written, rather than one per part; and
        # a new SQLite file gets its tables here, before the parts open it together.
        open_store(args.store, spool_dir=None).close()
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    parts = split_lines(cfg, jobs)
    with tempfile.TemporaryDirectory(prefix="shopfloor-sim-jobs-") as tmp:
        folder = Path(tmp)
        base = [sys.executable, "-m", "shopfloor.cli.main"]
        if getattr(args, "verbose", False):
            base.append("-v")
        base += ["sim", "--config", args.config, "--fast", "--store", args.store]
        base += ["--start", datetime.fromtimestamp(start_ms / 1000, UTC).isoformat()]
        base += ["--duration", f"{duration_s:.3f}s", "--jobs", "1"]
        if args.seed is not None:
            base += ["--seed", str(args.seed)]
        if resume:
            path = folder / "resume.json"
            path.write_text(json.dumps({m: r.model_dump() for m, r in resume.items()}))
            base += ["--resume", str(path)]
        log.info(
            "simulating in %d processes, %s",
            len(parts),
            "; ".join(f"{len(p)} line{'s' * (len(p) != 1)}" for p in parts),
        )
        t0 = time.perf_counter()
        procs: list[subprocess.Popen[bytes]] = []
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)

        before = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for k, lines in enumerate(parts):
                summary = folder / f"part-{k}.json"
                argv = [*base, "--lines", ",".join(lines), "--shard-summary", str(summary)]
                procs.append(_start_part(argv, os.getpid()))
            failed: list[tuple[int, int]] = []
            while any(p.poll() is None for p in procs):
                for k, p in enumerate(procs):
                    code = p.poll()
                    if code not in (None, 0) and (k, code) not in failed:
                        failed.append((k, code))
                        stop(signal.SIGTERM, None)  # a part failed: the others end too
                time.sleep(0.05)
            failed += [
                (k, p.returncode)
                for k, p in enumerate(procs)
                if p.returncode != 0 and (k, p.returncode) not in failed
            ]
        finally:
            for s, h in before.items():
                signal.signal(s, h)
        wall_s = time.perf_counter() - t0
        if failed:
            k, code = failed[0]
            raise UserError(
                f"the part of the plant with lines {', '.join(parts[k])} stopped (exit "
                f"{code}; its error is above); what the parts stored is a prefix of each "
                "machine's messages, which a next run goes on from"
            )
        summaries = [json.loads((folder / f"part-{k}.json").read_text()) for k in range(len(parts))]
    _log_summary(cfg, summaries, wall_s, len(parts), args.store, stopping)
    if args.report:
        raise AssertionError("--report runs in one process (cmd_sim)")
    return 0


def _log_summary(
    cfg: Any, summaries: list[dict[str, Any]], wall_s: float, jobs: int, url: str, stopped: bool
) -> None:
    count = sum(s["messages"] for s in summaries)
    stored = sum(s["stored"] for s in summaries)
    report = merge_reports([s["report"] for s in summaries], [ln.id for ln in cfg.lines])
    plant = report["plant"]
    log.info(
        "bulk: %d messages, %d records stored in %s by %d processes%s",
        count,
        stored,
        url,
        jobs,
        " (stopped early)" if stopped or any(s["interrupted"] for s in summaries) else "",
    )
    log.info(
        "simulated %s in %.2f s: %d events, %d messages; plant OEE %.1f%% (A %.1f%% P %.1f%% Q %.1f%%)",
        format_duration(max(s["sim_s"] for s in summaries)),
        wall_s,
        sum(s["events"] for s in summaries),
        count,
        plant["oee"] * 100,
        plant["availability"] * 100,
        plant["performance"] * 100,
        plant["quality"] * 100,
    )
