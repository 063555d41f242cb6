"""`shopfloor kpi`: the report of the simulator's --report, computed from a store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor import clock
from shopfloor.cli.errors import UserError
from shopfloor.timeparse import parse_instant


def register(sub: Any) -> None:
    p = sub.add_parser("kpi", help="OEE and energy KPIs of a time range, from a store")
    p.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="the store to read: sqlite:///path.db, influxdb://host:8086/<bucket>?org=<org> "
        "or influxdb1://host:8086/<database>",
    )
    p.add_argument("--config", help="plant config (ideal cycles, line order, time zone)")
    p.add_argument("--from", dest="t_from", metavar="ISO", help="start (default: 24 h before --to)")
    p.add_argument("--to", dest="t_to", metavar="ISO", help="end (default: now)")
    p.add_argument("--json", action="store_true", help="the full report as JSON")
    p.set_defaults(func=cmd_kpi)


def cmd_kpi(args: argparse.Namespace) -> int:
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.store import StoreError, open_store, parse_store_url
    from shopfloor.store.report import report_from_store

    cfg = load_or_exit(args.config) if args.config else None
    tz = ZoneInfo(cfg.plant.timezone if cfg else "Asia/Ho_Chi_Minh")
    try:
        t1 = int(parse_instant(args.t_to, tz).timestamp() * 1000) if args.t_to else clock.now_ms()
        t0 = (
            int(parse_instant(args.t_from, tz).timestamp() * 1000)
            if args.t_from
            else t1 - 86_400_000
        )
    except ValueError as exc:
        raise UserError(f"--from/--to: {exc}") from None
    if t1 <= t0:
        raise UserError("--to must be after --from")
    try:
        scheme, rest = parse_store_url(args.store)
    except ValueError as exc:
        raise UserError(f"--store: {exc}") from None
    # A read-only SqliteStore creates a missing file (the dashboard may start before the
    # collector): the KPIs of a mistyped path would be those of a new, empty store.
    if scheme == "sqlite" and not Path(rest).is_file():
        raise UserError(f"--store: {rest} does not exist")
    try:
        store = open_store(args.store, read_only=True)
        report = report_from_store(store, t0, t1, cfg)
        store.close()
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'':24} {'OEE':>7} {'A':>7} {'P':>7} {'Q':>7} {'good':>8} {'scrap':>6} {'kWh':>9}")
    rows = [("plant", report["plant"])]
    rows += [(f"line {k}", v) for k, v in report["lines"].items()]
    rows += [(f"  {k}", v) for k, v in report["machines"].items()]
    for name, e in rows:
        # "*": its OEE is inferred from power; "~": its kWh includes an estimate.
        mark = "*" if e.get("inferred") and "oee" in e.get("inferred_fields", ()) else ""
        est = "~" if e.get("energy_estimated_kwh", 0.0) > 0 else " "
        print(
            f"{(name[:23] + mark):24} {e['oee']:7.1%} {e['availability']:7.1%} {e['performance']:7.1%} {e['quality']:7.1%} "
            f"{e['good_count']:8d} {e['scrap_count']:6d} {e['energy_kwh']:9.1f}{est}"
        )
    print()
    print(f"{'':24} {'scrap at every station':>24} {'yield':>7}")
    for lid, e in report["lines"].items():
        print(f"{('line ' + lid)[:24]:24} {e['scrap_all_stations']:24d} {e['yield']:7.1%}")
    notes = []
    if any(e.get("inferred") for _, e in rows):
        # Issue 12: a stroke meter's cycles are counted from its waveform, not assumed.
        counted = any(e.get("cycles_counted") for _, e in rows)
        notes.append(
            "* inferred from power (a legacy machine with a power meter only): states, and "
            + (
                "counts from its power waveform (one peak a cycle) with no scrap"
                if counted
                else "counts at its ideal cycle with no scrap"
            )
        )
    estimated = report["plant"].get("energy_estimated_kwh", 0.0)
    if estimated > 0:
        notes.append(
            f"~ includes estimated kWh (integrated from power samples): {estimated:.1f} kWh of "
            f"the plant's {report['plant']['energy_kwh']:.1f}"
        )
    for note in notes:
        print(note)
    if "orders" in report:  # issue 12: work orders (shopfloor.orders)
        print()
        print(
            f"{'orders':24} {'due':>5} {'done':>5} {'OTIF':>7} {'attain':>7} {'lead h':>7} {'WIP':>6}"
        )
        for name, k in [("plant", report["orders"]["plant"])] + [
            (f"line {lid}", v) for lid, v in report["orders"]["lines"].items()
        ]:
            lead = k["lead_time_mean_s"]
            print(
                f"{name[:24]:24} {k['orders_due']:5d} {k['orders_finished']:5d} "
                f"{_pct(k['otif'])} {_pct(k['schedule_attainment'])} "
                f"{'-' if lead is None else f'{lead / 3600:.2f}':>7} {k['wip_orders_avg']:6.2f}"
            )
    return 0


def _pct(v: float | None) -> str:
    return f"{'-':>7}" if v is None else f"{v:7.1%}"
