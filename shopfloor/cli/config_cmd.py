"""`shopfloor config check PATH`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shopfloor.config import ConfigError, PlantConfig, load_config


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="work with plant configs")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    check = csub.add_parser("check", help="validate a plant config; exit 1 on errors")
    check.add_argument("path", help="plant config YAML")
    check.set_defaults(func=cmd_check)


def load_or_exit(path: str) -> PlantConfig:
    """Load a config, or print every error with its key path and exit 1."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        raise SystemExit(1) from None


def cmd_check(args: argparse.Namespace) -> int:
    cfg = load_or_exit(args.path)
    n = sum(len(line.stations) for line in cfg.lines)
    print(f"{args.path}: ok ({len(cfg.lines)} lines, {n} stations)")
    return 0
