"""`shopfloor --version`, `shopfloor config init`, and an installed wheel run outside the
repository: what a new user meets after `pip install .`."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from shopfloor import examples
from shopfloor.cli import config_cmd

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "plant.yaml"


def sf(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "shopfloor.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


def test_version(tmp_path):
    proc = sf("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"shopfloor {importlib.metadata.version('shopfloor')}\n"


def test_config_init_writes_a_plant_that_config_check_accepts(tmp_path):
    proc = sf("config", "init", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "plant.yaml").is_file()
    assert "shopfloor config check plant.yaml" in proc.stdout
    check = sf("config", "check", "plant.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "ok (3 lines, 12 stations)" in check.stdout


def test_config_init_refuses_to_overwrite_unless_forced(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("# my own plant\n")
    assert_user_error(
        sf("config", "init", str(mine), cwd=tmp_path), "mine.yaml already exists", "--force"
    )
    assert mine.read_text() == "# my own plant\n"

    proc = sf("config", "init", str(mine), "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sf("config", "check", str(mine), cwd=tmp_path).returncode == 0


def test_config_init_names_a_missing_folder_or_a_folder(tmp_path):
    assert_user_error(sf("config", "init", "no/such/plant.yaml", cwd=tmp_path), "no folder no/such")
    assert_user_error(sf("config", "init", ".", cwd=tmp_path), "is a folder")
    assert list(tmp_path.iterdir()) == []


def test_config_init_to_standard_output(tmp_path):
    proc = sf("config", "init", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Written by `shopfloor config init`")
    assert list(tmp_path.iterdir()) == []


def test_init_copy_is_the_demo_plant_with_a_header_naming_its_path():
    text = config_cmd.commented_copy("my plant.yaml")
    demo = DEMO.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == yaml.safe_load(demo)
    assert text.startswith("# Written by `shopfloor config init`")
    assert "shopfloor config check 'my plant.yaml'" in text
    assert "config/plant.yaml" not in text  # its comments name the copy, not the original


@pytest.mark.slow
def test_wheel_runs_config_init_and_check_from_any_folder(tmp_path):
    """Build the wheel as the Docker image does, install it into a fresh venv, and use it from a
    folder with no config/ in sight: the example plants come from the package."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("needs pip to build the wheel")
    # Build from a copy, so the build leaves nothing in the working tree (build/, *.egg-info).
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("shopfloor", "simulator", "collector", "dashboard", "config"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("shopfloor-*.whl")
    # What the pages and the PDF load at run time: a wheel without it works in the repository
    # and breaks in the Docker image (no CDN to fall back on).
    with zipfile.ZipFile(wheel) as whl:
        packed = set(whl.namelist())
    for asset in ("dashboard/assets/plotly-locale.js", "dashboard/assets/bootstrap.min.css"):
        assert asset in packed, asset
    fonts = {f"shopfloor/fonts/{f.name}" for f in (ROOT / "shopfloor" / "fonts").glob("*.ttf")}
    assert fonts and fonts <= packed, fonts - packed

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300
    )
    # The dependencies come from this interpreter's site-packages, appended after the venv's own
    # (no download); .pth files there are not run, so an editable shopfloor stays out of sight.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (Path(site) / "outer-deps.pth").write_text("\n".join(deps) + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    shopfloor = str(venv / "bin" / "shopfloor")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, capture_output=True, text=True, cwd=work, env=env, timeout=120, check=False
        )

    where = run(
        str(py),
        "-c",
        "import shopfloor, shopfloor.cli.demo_cmd as d; print(shopfloor.__file__); "
        "print(d.DEFAULT_CONFIG)",
    )
    assert where.returncode == 0, where.stderr
    module, default = where.stdout.split()
    assert Path(module).is_relative_to(venv), "the test imported the repository, not the wheel"
    assert Path(default).is_relative_to(venv)
    assert Path(default).read_bytes() == DEMO.read_bytes()
    for name in examples.NAMES:
        shipped = Path(default).with_name(name)
        assert shipped.read_bytes() == (ROOT / "config" / name).read_bytes(), name

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version = run(shopfloor, "--version")
    assert version.stdout == f"shopfloor {pyproject['project']['version']}\n", version.stderr

    init = run(shopfloor, "config", "init")
    assert init.returncode == 0, init.stderr
    check = run(shopfloor, "config", "check", "plant.yaml")
    assert check.returncode == 0, check.stderr
    assert "ok (3 lines, 12 stations)" in check.stdout
