"""Every command and option of `shopfloor` says what it is for in its --help."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from shopfloor.cli.main import build_parser


def parsers(
    parser: argparse.ArgumentParser, name: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from parsers(p, f"{name} {sub}")


def test_every_option_has_a_help_text():
    missing = [
        f"{name} {'/'.join(a.option_strings) or a.dest}"
        for name, parser in parsers(build_parser(), "shopfloor")
        for a in parser._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    assert missing == []
