"""config/plant.yaml with its commented products-and-orders example switched on (issue 12):
the bench's week with orders and the pipeline test both run the example as shipped, so the
example in the demo config stays valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopfloor.config import PlantConfig, parse_config
from shopfloor.config.load import _Loader, read_yaml

ROOT = Path(__file__).resolve().parents[1]
PLANT = ROOT / "config" / "plant.yaml"
BEGIN = "# --- orders example ---"
END = "# --- end of orders example ---"


def example_block(path: Path = PLANT) -> dict[str, Any]:
    """The example's keys (products, changeovers, orders), uncommented and parsed."""
    import yaml

    lines = path.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index(BEGIN) + 1 : lines.index(END)]
    text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in block)
    data = yaml.load(text, Loader=_Loader)
    assert isinstance(data, dict)
    return data


def orders_data(path: Path = PLANT) -> dict[str, Any]:
    """The plant's raw config data with the example in it."""
    data = read_yaml(path)
    data.update(example_block(path))
    return data


def orders_plant(path: Path = PLANT) -> PlantConfig:
    return parse_config(orders_data(path), f"{path} (orders example)")
