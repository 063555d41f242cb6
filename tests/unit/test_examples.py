"""The example plants ship inside the package, from config/ (their one copy in the repository)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from shopfloor import examples
from shopfloor.cli import demo_cmd

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def test_packaged_plants_are_byte_identical_to_config():
    for name in examples.NAMES:
        assert examples.read_bytes(name) == (CONFIG / name).read_bytes(), name


def test_every_example_plant_in_config_is_shipped_and_known():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tool = pyproject["tool"]["setuptools"]
    assert tool["package-dir"][examples.PACKAGE] == "config"
    assert tool["package-data"][examples.PACKAGE] == ["*.yaml"]
    assert {p.name for p in CONFIG.glob("*.yaml")} == set(examples.NAMES)


def test_every_package_folder_is_listed_for_the_wheel():
    # The packages are listed, not found (shopfloor.plants has no folder of its own): a new
    # package folder left out of the list would be missing from the wheel and the Docker image.
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("shopfloor", "simulator", "collector", "dashboard")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert listed == on_disk | {examples.PACKAGE}


def test_demo_runs_the_packaged_demo_plant():
    assert demo_cmd.DEFAULT_CONFIG is not None
    assert demo_cmd.DEFAULT_CONFIG.read_bytes() == (CONFIG / "plant.yaml").read_bytes()


def test_unknown_example_is_named():
    with pytest.raises(ValueError, match=r"one of plant\.yaml"):
        examples.source("nope.yaml")
