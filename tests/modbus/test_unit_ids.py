"""Modbus unit ids of the legacy machines' meters: `stations[].modbus_unit` pins one, the
others take the lowest free ids in config order (shopfloor/config/modbus_units.py), and the
config check names every mistake by its key path."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shopfloor.broker import free_port, wait_listening
from shopfloor.config.load import ConfigError, parse_config
from shopfloor.config.modbus_units import unit_ids
from tests.modbus.test_modbus import POLL
from tests.support import PLANT, cli


def plant(*stations: dict[str, Any]) -> dict[str, Any]:
    return {
        "plant": {"enterprise": "acme", "site": "hcm"},
        "lines": [
            {
                "id": "l1",
                "area": "a",
                "stations": [
                    {"ideal_cycle_s": 10, "power_kw": {"idle": 1, "running": 5}, **st}
                    for st in stations
                ],
            }
        ],
    }


LEGACY = {"connectivity": "legacy"}


def test_unpinned_legacy_machines_take_the_lowest_free_ids_in_config_order() -> None:
    cfg = parse_config(
        plant(
            {"id": "a", **LEGACY},
            {"id": "b"},  # a full machine has no meter to serve
            {"id": "c", **LEGACY, "modbus_unit": 2},
            {"id": "d", **LEGACY},
            {"id": "e", **LEGACY, "modbus_unit": 1},
            {"id": "f", **LEGACY},
        ),
        "test",
    )
    assert unit_ids(cfg) == {"a": 3, "c": 2, "d": 4, "e": 1, "f": 5}


@pytest.mark.parametrize(
    ("stations", "error"),
    [
        (
            [{"id": "a", "modbus_unit": 3}],
            "lines[0].stations[0].modbus_unit: only for connectivity: legacy",
        ),
        (
            [{"id": "a", **LEGACY, "modbus_unit": 3}, {"id": "b", **LEGACY, "modbus_unit": 3}],
            "lines[0].stations[1].modbus_unit: unit id 3 is also a's",
        ),
        ([{"id": "a", **LEGACY, "modbus_unit": 0}], "lines[0].stations[0].modbus_unit"),
        ([{"id": "a", **LEGACY, "modbus_unit": 248}], "lines[0].stations[0].modbus_unit"),
    ],
)
def test_a_bad_modbus_unit_is_named_by_its_key_path(
    stations: list[dict[str, Any]], error: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(plant(*stations), "test")
    assert any(e.startswith(error) for e in exc.value.errors), exc.value.errors


def test_a_pinned_unit_id_is_the_one_served(tmp_path: Path) -> None:
    legacy = "        connectivity: legacy\n"  # config/plant.yaml's press-01
    text = PLANT.read_text()
    assert text.count(legacy) == 1
    config = tmp_path / "plant.yaml"
    config.write_text(text.replace(legacy, legacy + "        modbus_unit: 7\n"))
    port = free_port()
    sim = subprocess.Popen(
        cli("sim", "--config", str(config), "--speed", "60", "--duration", "1h",
            "--modbus", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_listening("127.0.0.1", port, timeout_s=30)
        polled = subprocess.run(
            [sys.executable, str(POLL), "127.0.0.1", str(port), "7", "--reads", "1"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert polled.returncode == 0, polled.stderr
        first = subprocess.run(
            [sys.executable, str(POLL), "127.0.0.1", str(port), "1", "--reads", "1",
             "--timeout", "2"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        sim.send_signal(signal.SIGTERM)
        _, err = sim.communicate(timeout=30)
    assert "unit ids press-01=7" in err
    got = json.loads(polled.stdout)
    assert got["readings"][0]["0x0046"] == 50.0
    # Unit 1 has no meter now: the client's first read is answered with exception 0x0B.
    assert first.returncode != 0
    assert "exception_code=11" in first.stderr + first.stdout
