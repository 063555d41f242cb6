"""docker-compose switches the Modbus meters on with one variable, SIM_MODBUS (docs/modbus.md):
empty (the default) passes `--modbus=`, which is off; set, the simulator listens on it inside
its container and the port is published on the host's loopback only."""

from __future__ import annotations

import os
import subprocess

import yaml

from tests.compose.test_compose import COMPOSE, DOCKER_COMPOSE, ENV_EXAMPLE, ROOT, needs_compose
from tests.support import PLANT, run_cli


def simulator(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config"],
        capture_output=True, text=True, cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    return yaml.safe_load(out.stdout)["services"]["simulator"]


@needs_compose
def test_sim_modbus_switches_the_meters_on_and_publishes_on_loopback_only() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SIM_MODBUS"}
    off = simulator(env)
    assert "--modbus=" in off["command"]
    on = simulator({**env, "SIM_MODBUS": "0.0.0.0:5020"})
    assert "--modbus=0.0.0.0:5020" in on["command"]
    published = [p for p in on["ports"] if "5020" in str(p)]
    assert published, on["ports"]
    for p in published:  # the long or the short syntax, as docker-compose renders it
        host_ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
        assert host_ip == "127.0.0.1", p


def test_an_empty_modbus_address_is_off() -> None:
    r = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1m", "--modbus=")
    assert r.returncode == 0, r.stderr
    assert "Modbus" not in r.stderr
