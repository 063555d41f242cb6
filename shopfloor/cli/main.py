"""`shopfloor` entry point. argparse (stdlib) keeps the install small and its sub-parsers
give per-command help; its usage errors are turned into exit code 1 like every user error."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
from collections.abc import Sequence

from shopfloor import clock
from shopfloor.cli.errors import UserError
from shopfloor.settings import SettingsError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def version() -> str:
    """The installed distribution's version (pyproject's), as pip and the wheel know it."""
    try:
        return importlib.metadata.version("shopfloor")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> Parser:
    from shopfloor.cli import (
        broker_cmd,
        collect_cmd,
        config_cmd,
        dash_cmd,
        demo_cmd,
        kpi_cmd,
        reconcile_cmd,
        report_cmd,
        sim_cmd,
        whatif_cmd,
    )

    parser = Parser(prog="shopfloor", description="Smart-factory shop-floor simulator and monitor.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--version", action="version", version=f"shopfloor {version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    config_cmd.register(sub)
    sim_cmd.register(sub)
    broker_cmd.register(sub)
    collect_cmd.register(sub)
    kpi_cmd.register(sub)
    dash_cmd.register(sub)
    demo_cmd.register(sub)
    reconcile_cmd.register(sub)
    whatif_cmd.register(sub)
    report_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        clock.pin()  # a bad SHOPFLOOR_NOW is named here, before any service starts
        return int(args.func(args) or 0)
    except (UserError, SettingsError, clock.ClockError) as exc:
        print(f"shopfloor {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
