"""`shopfloor sim`: run the plant model, write JSONL telemetry and a ground-truth report."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Iterator
from typing import IO, Any
from zoneinfo import ZoneInfo

from shopfloor.cli.config_cmd import load_or_exit
from shopfloor.cli.errors import UserError
from shopfloor.timeparse import format_duration, parse_duration, parse_instant

log = logging.getLogger("shopfloor.sim")


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    p = sub.add_parser("sim", help="run the plant simulator")
    p.add_argument("--config", required=True, help="plant config YAML")
    p.add_argument("--seed", type=int, help="random seed (default: the config's seed)")
    p.add_argument("--duration", type=_duration, help="how long to simulate: 30m, 8h, 7d ...")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true", help="as fast as possible (backfill)")
    pace.add_argument(
        "--speed", type=_positive, help="sim seconds per wall second (default: 1, real time)"
    )
    p.add_argument("--start", help="simulated start, ISO 8601 (default: now)")
    p.add_argument("--jsonl", metavar="PATH|-", help="write every message as a JSON line")
    p.add_argument("--report", metavar="PATH|-", help="write the ground truth as JSON at the end")
    p.set_defaults(func=cmd_sim)


@contextlib.contextmanager
def _open_out(path: str | None, binary: bool) -> Iterator[IO[Any] | None]:
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout.buffer if binary else sys.stdout
    else:
        try:
            f = open(path, "wb" if binary else "w")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}") from None
        with f:
            yield f


def _stop(signum: int, frame: object) -> None:
    # SIGTERM ends a run like Ctrl-C: books closed, final messages and report written.
    raise KeyboardInterrupt


def cmd_sim(args: argparse.Namespace) -> int:
    from simulator.run import run
    from simulator.sinks import JsonlSink, NullSink

    cfg = load_or_exit(args.config)
    tz = ZoneInfo(cfg.plant.timezone)
    now_ms = int(time.time() * 1000)
    if args.start is not None:
        try:
            start_ms = int(parse_instant(args.start, tz).timestamp() * 1000)
        except ValueError as exc:
            raise UserError(f"--start: {exc}") from None
    else:
        start_ms = now_ms
    duration_s = args.duration
    if args.fast and duration_s is None:
        if start_ms >= now_ms:
            raise UserError(
                "--fast needs --duration (or a --start in the past to backfill up to now)"
            )
        duration_s = (now_ms - start_ms) / 1000.0
    if args.jsonl == "-" and args.report == "-":
        raise UserError("--jsonl and --report cannot both write to standard output")
    speed = None if args.fast else (args.speed or 1.0)
    signal.signal(signal.SIGTERM, _stop)

    with _open_out(args.jsonl, binary=True) as jf:
        sink = JsonlSink(jf, flush_each=speed is not None) if jf is not None else NullSink()
        if speed is not None:
            log.info(
                "running at %gx real time%s; Ctrl-C stops",
                speed,
                f" for {format_duration(duration_s)}" if duration_s else "",
            )
        result = run(cfg, sink, start_ms, duration_s, speed=speed, seed=args.seed)
    plant = result.report["plant"]
    log.info(
        "simulated %s in %.2f s: %d events, %d messages; plant OEE %.1f%% (A %.1f%% P %.1f%% Q %.1f%%)",
        format_duration(result.sim_s),
        result.wall_s,
        result.events,
        sink.count,
        plant["oee"] * 100,
        plant["availability"] * 100,
        plant["performance"] * 100,
        plant["quality"] * 100,
    )
    with _open_out(args.report, binary=False) as rf:
        if rf is not None:
            json.dump(result.report, rf, indent=2)
            rf.write("\n")
    return 0
