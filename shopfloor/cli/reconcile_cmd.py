"""`shopfloor reconcile`: publish a seeded run beside a running stack and check that the store
shows exactly what the simulator did (the compose stack's `test` profile runs it)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from shopfloor import clock
from shopfloor.cli.errors import UserError
from shopfloor.cli.sim_cmd import _duration, _positive

log = logging.getLogger("shopfloor.reconcile")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "reconcile", help="check the pipeline end to end against the simulator's ground truth"
    )
    p.add_argument(
        "--config", required=True, help="the plant to publish (its own site and machine ids)"
    )
    p.add_argument("--broker", required=True, metavar="URL", help="the broker the collector reads")
    p.add_argument("--store", required=True, metavar="URL", help="the store the collector writes")
    p.add_argument(
        "--duration", type=_duration, default=4 * 3600.0, help="simulated time (default 4h)"
    )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=120.0,
        help="seconds to wait for the store (default 120)",
    )
    p.add_argument(
        "--encoding",
        choices=("json", "sparkplug"),
        default="json",
        help="publish as our JSON (default) or as Sparkplug B (docs/sparkplug.md)",
    )
    p.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.cli.reconcile import reconcile
    from shopfloor.store import StoreError, open_store

    cfg = load_or_exit(args.config)
    try:
        store = open_store(args.store)
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    # A past window, ending on a whole hour well before now: history, never live data.
    end_ms = (int(clock.now_s()) // 3600 - 1) * 3_600_000
    start_ms = end_ms - int(args.duration * 1000)
    newest = max(
        (m.last_ts for m in store.machines() if m.machine in {st.id for _, st in cfg.stations()}),
        default=0,
    )
    if newest >= start_ms:
        # An earlier reconciliation wrote here: go on after it (the meters must not step back).
        start_ms = newest + 1
    try:
        problems, got = reconcile(
            cfg, args.broker, store, start_ms, args.duration, args.timeout,
            encoding=args.encoding,
        )  # fmt: skip
    except (StoreError, TimeoutError, ValueError) as exc:
        raise UserError(str(exc)) from None
    plant = got["plant"]
    print(
        f"reconciled {len(got['machines'])} machines over {args.duration / 3600:g} h: plant OEE "
        f"{plant['oee'] * 100:.1f}%, good {plant['good_count']}, {plant['energy_kwh']:.1f} kWh"
    )
    for line in problems:
        print(f"MISMATCH {line}")
    print(
        "OK: the store matches the simulator"
        if not problems
        else f"FAILED: {len(problems)} mismatches"
    )
    return 0 if not problems else 1
