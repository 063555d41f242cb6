"""The compose simulator's entrypoint: `shopfloor sim` going on from what the store holds.

The simulator restarts (`restart: unless-stopped`, a crash, a host reboot). Run as
`sim --backfill 8h` it would backfill the last 8 hours again over the history already stored:
counters stepping back, seq restarting, the stored OEE wrong. Instead, as `shopfloor demo`
does, this reads the store first and starts the simulator at the later of (now - backfill)
and just after the plant's last stored message, with each machine's seq and meters continued
(`sim --start ... --then-live --resume FILE`). Then it becomes that simulator (exec: signals
and PID 1 are its own). The resume goes in a file in --data-dir, as the demo's does: a line's
open orders, inventory and wear can outgrow the 128 KiB one argument may hold on Linux.

usage: python simulator-start.py --store URL --config PATH [--backfill 8h] [--data-dir DIR]
       [--dry-run] [-- more `shopfloor sim` options, e.g. --broker=... --speed=...]

A store that cannot be read is an error (exit 1: compose tries again), never a reason to
backfill blind.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from shopfloor import clock
from shopfloor.cli.demo import continue_args, shopfloor_cmd
from shopfloor.config import ConfigError, load_config
from shopfloor.store import StoreError, open_store
from shopfloor.timeparse import parse_duration


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="simulator-start.py", description=__doc__.split("\n")[0])
    p.add_argument("--store", required=True, help="the store the plant's collector writes")
    p.add_argument("--config", required=True, help="plant config YAML")
    p.add_argument("--backfill", default="8h", help="history to make on a first start")
    p.add_argument(
        "--data-dir", default="/app/data", help="where the resume file goes (the image's)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    p.add_argument("sim_args", nargs="*", help="after --: more `shopfloor sim` options")
    args = p.parse_args(argv)
    try:
        backfill_s = parse_duration(args.backfill)
        cfg = load_config(args.config)
        store = open_store(args.store, read_only=True)
        now_ms = clock.now_ms()
        try:
            start = continue_args(
                cfg,
                store,
                now_ms - int(backfill_s * 1000),
                now_ms,
                live=True,
                resume_file=Path(args.data_dir) / "resume.json",
            )
        finally:
            store.close()
    except (ConfigError, ValueError, OSError, StoreError) as exc:
        print(f"simulator-start: error: {exc}", file=sys.stderr, flush=True)
        return 1
    cmd = shopfloor_cmd("sim", "--config", args.config, *start, *args.sim_args)
    if args.dry_run:
        print(shlex.join(cmd[3:]), flush=True)
        return 0
    print(f"simulator-start: shopfloor {' '.join(cmd[3:6])} {' '.join(start[:2])}", flush=True)
    try:
        os.execv(cmd[0], cmd)
    except OSError as exc:  # E2BIG, a missing interpreter: a line, not a traceback
        print(f"simulator-start: error: cannot run {cmd[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
