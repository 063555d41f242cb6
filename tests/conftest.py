from __future__ import annotations

import copy
import signal
from typing import Any

import pytest

# Tests stop the servers they start with SIGINT, as a user's Ctrl-C does. A suite started in
# the background by a non-interactive shell (`pytest &` in a script) has SIGINT ignored, and
# every process it starts inherits that: servers that never stop, teardowns that time out. A
# Python handler here is reset to the default in each child (exec), so they stop as they do
# from a terminal; pytest itself gets the KeyboardInterrupt it expects.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
