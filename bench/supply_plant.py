"""config/plant.yaml with its commented materials example switched on (issue 12), on top of
its products-and-orders example or without it: bench_sim's week with orders and materials and
the tests run the example as shipped, so the example in the demo config stays valid.

What a part uses is not in the example block (it belongs beside a line's stations or on a
product): the two lines that make parts from bought material get it here, so it holds for
every product they make, with or without the orders example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.orders_plant import PLANT, orders_data
from shopfloor.config import PlantConfig, parse_config
from shopfloor.config.load import _Loader, read_yaml

BEGIN = "# --- materials example ---"
END = "# --- end of materials example ---"
# One aluminium bar per machined housing, one unit of granulate per moulded cover.
BILLS: dict[str, dict[str, int]] = {
    "machining-1": {"aluminium-bar": 1},
    "molding-1": {"pp-granulate": 1},
}


def example_block(path: Path = PLANT) -> dict[str, Any]:
    """The example's keys (suppliers, materials), uncommented and parsed."""
    import yaml

    lines = path.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index(BEGIN) + 1 : lines.index(END)]
    text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in block)
    data = yaml.load(text, Loader=_Loader)
    assert isinstance(data, dict)
    return data


def supply_data(path: Path = PLANT, orders: bool = True) -> dict[str, Any]:
    """The plant's raw config data with the materials example (and the orders one) in it."""
    data = orders_data(path) if orders else read_yaml(path)
    data.update(example_block(path))
    for line in data["lines"]:
        if line["id"] in BILLS:
            line["materials"] = BILLS[line["id"]]
    return data


def supply_plant(path: Path = PLANT, orders: bool = True) -> PlantConfig:
    return parse_config(supply_data(path, orders), f"{path} (materials example)")
