"""`shopfloor report`: one shift's end-of-shift report (PDF and/or CSV) from a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shopfloor.cli.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="a shift's end-of-shift report: one-page PDF and/or CSV, from a store",
        description="KPIs per line and station, top losses, energy, cost and CO2e of one shift.",
    )
    p.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="the store to read: sqlite:///path.db, influxdb://host:8086/<bucket>?org=<org> "
        "or influxdb1://host:8086/<database>",
    )
    p.add_argument("--config", required=True, help="plant config (shifts, tariff, time zone)")
    p.add_argument(
        "--shift",
        required=True,
        metavar="DATE/NAME",
        help="the local date the shift starts on and its name, e.g. 2026-11-23/A",
    )
    p.add_argument("--pdf", metavar="PATH", help="write the one-page PDF here")
    p.add_argument("--csv", metavar="PATH", help="write the CSV here ('-': standard output)")
    p.add_argument("--lang", choices=("en", "vi"), default="en", help="the PDF's language")
    p.set_defaults(func=cmd_report)


def held(span: tuple[int, int] | None, cfg: Any) -> str:
    """What the store holds, in the plant's local time."""
    if span is None:
        return "the store is empty"
    from zoneinfo import ZoneInfo

    from shopfloor import fmt

    tz = ZoneInfo(cfg.plant.timezone)
    a, b = (fmt.local(t, tz).strftime("%Y-%m-%d %H:%M") for t in span)
    return f"the store holds {a} to {b} {tz.key}"


def cmd_report(args: argparse.Namespace) -> int:
    from shopfloor import clock, shiftreport
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.store import StoreError, open_store
    from shopfloor.store.url import parse_store_url

    if not args.pdf and not args.csv:
        raise UserError("say what to write: --pdf PATH and/or --csv PATH ('-' for stdout)")
    cfg = load_or_exit(args.config)
    try:
        window = shiftreport.parse_shift(cfg, args.shift)
    except ValueError as exc:
        raise UserError(f"--shift: {exc}") from None
    try:
        scheme, rest = parse_store_url(args.store)
    except ValueError as exc:
        raise UserError(f"--store: {exc}") from None
    # A read-only SqliteStore creates a missing file (the dashboard may start before the
    # collector); a report of a mistyped path would then be an empty one, exit 0.
    if scheme == "sqlite" and not Path(rest).is_file():
        raise UserError(f"--store: {rest} does not exist")
    try:
        store = open_store(args.store, read_only=True)
        try:
            # A shift the store has nothing of (before its first data, not begun, to come)
            # would be an all-zero report that looks like an idle shift: refused, no files.
            if not shiftreport.has_data(store, window):
                span = shiftreport.stored_span(store)
                raise UserError(f"no data stored for shift {window.key} ({held(span, cfg)})")
            data = shiftreport.collect(store, cfg, window, clock.now_ms())
        finally:
            store.close()
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    try:
        if args.pdf:
            Path(args.pdf).write_bytes(shiftreport.pdf_bytes(data, args.lang))
        if args.csv == "-":
            sys.stdout.write(shiftreport.csv_bytes(data).decode("utf-8-sig"))
        elif args.csv:
            Path(args.csv).write_bytes(shiftreport.csv_bytes(data))
    except OSError as exc:
        raise UserError(f"cannot write the report: {exc}") from None
    return 0
