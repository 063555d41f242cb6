from __future__ import annotations

import copy
from typing import Any

import pytest

BASE: dict[str, Any] = {
    "plant": {"enterprise": "acme", "site": "hcm", "timezone": "Asia/Ho_Chi_Minh"},
    "seed": 7,
    "lines": [
        {
            "id": "l1",
            "area": "machining",
            "stations": [
                {
                    "id": "m1",
                    "kind": "cnc",
                    "ideal_cycle_s": 45,
                    "cycle_s": {"mean": 48, "cv": 0.05},
                    "mtbf_min": 240,
                    "mttr_min": 20,
                    "scrap_rate": 0.02,
                    "buffer": 10,
                    "power_kw": {"off": 0.0, "idle": 2.5, "running": 15.0, "down": 1.0},
                }
            ],
        }
    ],
}


@pytest.fixture
def base_config() -> dict[str, Any]:
    """A valid one-station plant as plain data; tests edit their own deep copy."""
    return copy.deepcopy(BASE)
