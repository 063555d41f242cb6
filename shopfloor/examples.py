"""The example plants that ship inside the package: what `shopfloor demo` runs and
`shopfloor config init` copies.

Their one copy in the repository is config/ (plant.yaml, large.yaml, reconcile.yaml); the wheel
installs that folder as the data-only package `shopfloor.plants` (pyproject's package-dir), so
an installed shopfloor finds them from any folder. A checkout used in place has no such package
(setuptools' editable finder serves no package folder without an __init__.py, nor does
PYTHONPATH=.): there the plants are read from config/ beside the code, the same files.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PACKAGE = "shopfloor.plants"
DEMO = "plant.yaml"
NAMES = ("plant.yaml", "large.yaml", "reconcile.yaml", "whatif.yaml")
SCENARIOS = "whatif.yaml"  # the demo plant's what-if scenarios (docs/whatif.md)

_copies: contextlib.ExitStack | None = None  # temporary copies made by path(), removed at exit


def source(name: str = DEMO) -> Traversable:
    """The packaged example plant `name` (one of NAMES), as importlib.resources has it."""
    if name not in NAMES:
        raise ValueError(f"no example plant {name!r}: one of {', '.join(NAMES)}")
    try:
        root: Traversable = resources.files(PACKAGE)
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[1] / "config"
    return root / name


def read_bytes(name: str = DEMO) -> bytes:
    """The example plant's bytes, exactly as shipped (comments included)."""
    return source(name).read_bytes()


def path(name: str = DEMO) -> Path | None:
    """A file path of the example plant, for the services that take `--config PATH`; None when
    the install lacks it. An install that is not a plain folder (a zip) gets a temporary copy
    that lasts as long as this process."""
    src = source(name)
    if not src.is_file():
        return None
    if isinstance(src, Path):
        return src
    global _copies
    if _copies is None:
        _copies = contextlib.ExitStack()
        atexit.register(_copies.close)
    return _copies.enter_context(resources.as_file(src))
