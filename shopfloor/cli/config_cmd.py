"""`shopfloor config check PATH` and `shopfloor config init [PATH]`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from shopfloor import examples
from shopfloor.cli.errors import UserError
from shopfloor.config import ConfigError, PlantConfig, load_config


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="work with plant configs")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    check = csub.add_parser("check", help="validate a plant config; exit 1 on errors")
    check.add_argument("path", help="plant config YAML")
    check.set_defaults(func=cmd_check)
    init = csub.add_parser(
        "init",
        help="write a commented copy of the demo plant to edit",
        description="Write a commented copy of the demo plant (three lines, twelve stations) to "
        "edit, then check it with `shopfloor config check PATH` and run it with "
        "`shopfloor demo --config PATH`.",
    )
    init.add_argument(
        "path",
        nargs="?",
        default="plant.yaml",
        metavar="PATH",
        help="where to write it, or - for standard output (default: plant.yaml in the current "
        "folder)",
    )
    init.add_argument("--force", action="store_true", help="overwrite PATH if it already exists")
    init.set_defaults(func=cmd_init)


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


def commented_copy(path: str) -> str:
    """The demo plant as `config init` writes it to `path`: a header saying what it is and what
    to run next, then the demo plant with its own comments, their commands naming `path`."""
    name = shlex.quote(path) if path != "-" else "plant.yaml"
    head = (
        "# Written by `shopfloor config init`: a copy of the demo plant, yours to edit.\n"
        f"# After a change:  shopfloor config check {name}   (names every wrong or unknown key)\n"
        f"# Watch it live:   shopfloor demo --config {name}\n"
        "#\n"
    )
    demo = examples.read_bytes(examples.DEMO).decode("utf-8")
    lines = demo.splitlines(keepends=True)
    body = "".join(
        line.replace("config/plant.yaml", name) if line.lstrip().startswith("#") else line
        for line in lines
    )
    return head + body


def cmd_init(args: argparse.Namespace) -> int:
    text = commented_copy(args.path)
    if args.path == "-":
        sys.stdout.write(text)
        return 0
    target = Path(args.path)
    if target.is_dir():
        raise UserError(f"{target} is a folder: give a file path, e.g. {target / 'plant.yaml'}")
    try:
        with target.open("wb" if args.force else "xb") as f:
            f.write(text.encode("utf-8"))
    except FileExistsError:
        raise UserError(f"{target} already exists: give --force to overwrite it") from None
    except FileNotFoundError:
        raise UserError(f"cannot write {target}: no folder {target.parent}") from None
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from None
    name = shlex.quote(str(target))
    print(f"wrote {target}: the demo plant to edit; check it with `shopfloor config check {name}`")
    _write_scenarios(target)
    return 0


def _write_scenarios(plant: Path) -> None:
    """Beside a new demo plant, its what-if scenarios (never over an existing file): so
    `shopfloor whatif --config plant.yaml --scenarios whatif.yaml` works at once."""
    target = plant.with_name(examples.SCENARIOS)
    if target == plant:
        return
    text = examples.read_bytes(examples.SCENARIOS).decode("utf-8")
    text = "".join(
        line.replace("config/plant.yaml", shlex.quote(str(plant))).replace(
            "config/whatif.yaml", shlex.quote(str(target))
        )
        if line.lstrip().startswith("#")
        else line
        for line in text.splitlines(keepends=True)
    )
    try:
        with target.open("xb") as f:
            f.write(text.encode("utf-8"))
    except FileExistsError:
        print(f"kept the existing {target} (what-if scenarios)")
        return
    except OSError as exc:
        print(f"could not write {target} (what-if scenarios): {exc.strerror or exc}")
        return
    print(
        f"wrote {target}: what-if scenarios of it; compare them with `shopfloor whatif --config "
        f"{shlex.quote(str(plant))} --scenarios {shlex.quote(str(target))}`"
    )
