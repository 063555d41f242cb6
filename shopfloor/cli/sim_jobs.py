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

A stop (Ctrl-C, SIGTERM) is passed to every part (they run in a session of their own, so a
terminal's Ctrl-C reaches this process alone): each stores a prefix of its machines' streams
and ends. The parts then stand at different times; `--continue-from` starts each part where
its own lines end, so a later run leaves no line a gap. A part that fails ends the others
the same way and the run with exit 1. A part outlives no parent: the kernel sends it SIGTERM
when this process dies (prctl). SQLite only: into InfluxDB each part would also rebuild the
other's meter rollups on its first write.
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
    # The same code as this process's, wherever it was imported from (a checkout).
    here = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH")))),
    }
    return subprocess.Popen(
        argv,
        env=env,
        # The part's standard input is not ours to share; its log goes where ours goes.
        stdin=subprocess.DEVNULL,
        # Its own session: a Ctrl-C at the terminal reaches this process only, which passes
        # one stop on to every part (a part still starting would otherwise die of it).
        start_new_session=True,
        preexec_fn=lambda: die_with_parent(parent, signal.SIGTERM),
    )


UNEVEN_MS = 60_000  # lines whose stored history ends further apart than this are uneven


def _by_end(ends: dict[str, int]) -> list[list[str]]:
    """The lines in groups whose stored history ends within UNEVEN_MS of each other (config
    order kept in each): the parts a stopped run left, or any other uneven store."""
    groups: list[list[str]] = []
    last = -UNEVEN_MS
    for line, t in sorted(ends.items(), key=lambda kv: kv[1]):
        if not groups or t - last >= UNEVEN_MS:
            groups.append([])
        groups[-1].append(line)
        last = t
    order = list(ends)
    return [sorted(g, key=order.index) for g in groups]


def line_ends_ms(url: str, cfg: Any) -> dict[str, int]:
    """Each line's last stored ts in the store at `url` (0 where it has none)."""
    from shopfloor.cli.demo import stored_until_by_line
    from shopfloor.store import StoreError, open_store

    try:
        store = open_store(url, read_only=True)
    except (ValueError, StoreError) as exc:
        raise UserError(f"--continue-from: {exc}") from None
    try:
        return stored_until_by_line(cfg, store)
    finally:
        store.close()


# A part's exit after it was told to stop: done (0; `shopfloor sim` ends so on SIGTERM from its
# first line), or killed by the signal while the interpreter was still starting (-15). Parts
# run in their own session: no SIGINT reaches them.
_STOPPED = {0, -signal.SIGTERM}


def run_jobs(
    args: Any,
    cfg: Any,
    start_ms: int,
    duration_s: float,
    resume: dict[str, Any] | None,
    jobs: int,
    *,
    floor_ms: int | None = None,
) -> int:
    """Runs `shopfloor sim` over the plant's lines in `jobs` processes (see the module's
    docstring); logs one summary of the whole run as one process would. With
    --continue-from, each part starts where its own lines' stored history ends (no earlier
    than `floor_ms`, the start asked for): a stopped run leaves its parts at different times,
    and going on from the latest would leave the others a gap."""
    from shopfloor.store import StoreError, open_store

    try:
        # One clear error for a store that cannot be written, rather than one per part; and
        # a new SQLite file gets its tables here, before the parts open it together.
        open_store(args.store, spool_dir=None).close()
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    parts = split_lines(cfg, jobs)
    end_ms = start_ms + round(duration_s * 1000)
    starts = [start_ms] * len(parts)
    if args.continue_from:
        ends = line_ends_ms(args.continue_from, cfg)
        if max(ends.values()) - min(ends.values()) >= UNEVEN_MS:
            parts = _by_end(ends)  # each part's lines end together: it starts where they end
        floor = start_ms if floor_ms is None else floor_ms
        starts = [max(floor, max(ends[ln] for ln in p) + 1) for p in parts]
    todo = [k for k in range(len(parts)) if starts[k] < end_ms]
    if not todo:
        log.info("every part of the plant is stored up to the end asked for: nothing to do")
        return 0
    with tempfile.TemporaryDirectory(prefix="shopfloor-sim-jobs-") as tmp:
        folder = Path(tmp)
        base = [sys.executable, "-m", "shopfloor.cli.main"]
        if getattr(args, "verbose", False):
            base.append("-v")
        base += ["sim", "--config", args.config, "--fast", "--store", args.store, "--jobs", "1"]
        if args.seed is not None:
            base += ["--seed", str(args.seed)]
        if resume:
            path = folder / "resume.json"
            path.write_text(json.dumps({m: r.model_dump() for m, r in resume.items()}))
            base += ["--resume", str(path)]
        log.info(
            "simulating %d lines in %d processes (%s lines each)",
            sum(len(parts[k]) for k in todo),
            len(todo),
            ", ".join(str(len(parts[k])) for k in todo),
        )
        t0 = time.perf_counter()
        procs: dict[int, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)

        before = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is not signal.SIG_IGN:  # a background job's stays ignored
                before[sig] = signal.signal(sig, stop)
        try:
            for k in todo:
                if stopping:
                    break
                when = datetime.fromtimestamp(starts[k] / 1000, UTC).isoformat()
                argv = [*base, "--start", when, "--duration", f"{(end_ms - starts[k]) / 1000:.3f}s",
                        "--lines", ",".join(parts[k]), "--shard-summary", str(folder / f"part-{k}.json")]  # fmt: skip
                procs[k] = _start_part(argv, os.getpid())
                if stopping:  # the stop came while it was being started
                    procs[k].send_signal(signal.SIGTERM)
            failed: list[tuple[int, int]] = []
            while any(p.poll() is None for p in procs.values()):
                for k, p in procs.items():
                    code = p.poll()
                    if code not in (None, 0) and not stopping:
                        failed.append((k, code))
                        stop(signal.SIGTERM, None)  # a part failed: the others end too
                time.sleep(0.05)
            ok = _STOPPED if stopping else {0}
            failed += [(k, p.returncode) for k, p in procs.items() if p.returncode not in ok]
        finally:
            for sig, h in before.items():
                signal.signal(sig, h)
        wall_s = time.perf_counter() - t0
        if failed:
            k, code = failed[0]
            why = f"exit {code}; its error is above" if code > 0 else f"killed by signal {-code}"
            raise UserError(
                f"the part of the plant with lines {', '.join(parts[k])} stopped ({why}); "
                "what each part stored is a prefix of its machines' messages: "
                "`--continue-from` with this store goes on from where each part's lines end"
            )
        summaries = [
            json.loads(f.read_text()) for k in procs if (f := folder / f"part-{k}.json").exists()
        ]
    if summaries:
        whole = not (getattr(args, "lines", None) or getattr(args, "area", None))
        _log_summary(cfg, summaries, wall_s, len(procs), args.store, stopping, whole)
    if stopping:
        _warn_uneven(args.store, cfg, parts)
    return 0


def _warn_uneven(url: str, cfg: Any, parts: list[list[str]]) -> None:
    """After a stop: the parts reached different times. Said, with how to go on."""
    by_line = line_ends_ms(url, cfg)
    ends = [max(by_line[ln] for ln in p) for p in parts]
    if max(ends) - min(ends) < UNEVEN_MS:
        return
    behind = [f"{', '.join(p)}: {_at(t)}" for p, t in zip(parts, ends, strict=True)]
    log.warning(
        "the stop left the parts at different times (%s): `shopfloor sim --fast --store %s "
        "--continue-from %s` goes on from where each part's lines end",
        "; ".join(behind),
        url,
        url,
    )


def _at(ms: int) -> str:
    return "nothing stored" if not ms else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _log_summary(
    cfg: Any,
    summaries: list[dict[str, Any]],
    wall_s: float,
    jobs: int,
    url: str,
    stopped: bool,
    whole: bool = True,
) -> None:
    from shopfloor.cli.sim_cmd import log_simulated, oee_scope

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
    log_simulated(
        max(s["sim_s"] for s in summaries),
        wall_s,
        sum(s["events"] for s in summaries),
        count,
        "plant" if whole else oee_scope(len(cfg.lines)),
        plant,
    )
