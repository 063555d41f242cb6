"""The legacy machines' Modbus meters (`shopfloor sim --modbus`, simulator/modbus, issue 13),
polled by an independent client in its own process (tests/modbus/poll.py, pymodbus's client)
while the simulator runs paced, compared with the simulator's ground truth: the power each
sample carried and the station's true energy meter at that instant, replayed in-process."""

from __future__ import annotations

import json
import math
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shopfloor import clock
from shopfloor.broker import free_port, wait_listening
from shopfloor.config.load import load_config
from simulator.run import run
from tests.support import MONDAY_1100, PLANT, cli, run_cli

POLL = Path(__file__).with_name("poll.py")
LEGACY = "press-01"  # config/plant.yaml's one legacy machine: unit id 1
PF = 0.85  # docs/modbus.md: the power factor every loaded meter shows
EXC_ILLEGAL_FUNCTION, EXC_ILLEGAL_ADDRESS, EXC_ILLEGAL_VALUE, EXC_GATEWAY_NO_RESPONSE = 1, 2, 3, 11


def f32(x: float) -> float:
    """What a float32 register pair carries of x."""
    return struct.unpack(">f", struct.pack(">f", x))[0]


class MeterTruth:
    """A sink recording, at each of the legacy machine's telemetry samples, the power sent and
    its station's true energy meter at that sim instant (and both once the plant is built)."""

    def __init__(self) -> None:
        self.station: Any = None
        self.pairs: set[tuple[float, float]] = set()
        self.samples = 0

    def attach(self, plant: Any) -> None:
        self.station = next(st for st in plant.stations if st.id == LEGACY)
        self.pairs.add((0.0, f32(self.station.meter_reading_kwh())))

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        if topic.endswith(f"/{LEGACY}/telemetry"):
            self.samples += 1
            watts = f32(payload["power_kw"] * 1000.0)
            self.pairs.add((watts, f32(self.station.meter_reading_kwh())))

    def close(self) -> None:
        pass


def test_polled_power_and_energy_are_the_simulators_at_the_same_instants(tmp_path: Path) -> None:
    start = MONDAY_1100  # shift A: the press runs, idles, maybe breaks down
    port = free_port()
    sim = subprocess.Popen(
        cli("sim", "--config", str(PLANT), "--start", start, "--speed", "120",
            "--duration", "2h", "--modbus", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_listening("127.0.0.1", port, timeout_s=30)
        polled = subprocess.run(
            [sys.executable, str(POLL), "127.0.0.1", str(port), "1", "--reads", "8"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert polled.returncode == 0, polled.stderr
        assert sim.poll() is None, "the simulator stopped while being polled"
    finally:
        sim.send_signal(signal.SIGTERM)
        _, err = sim.communicate(timeout=30)
    assert sim.returncode == 0, err
    assert "unit ids press-01=1" in err
    got = json.loads(polled.stdout)

    # The ground truth: the same plant, seed and start, run in-process for the same 2 h.
    truth = MeterTruth()
    cfg = load_config(PLANT)
    run(cfg, truth, int(clock.parse(start).at_s * 1000), 2 * 3600.0)
    assert truth.samples == int(2 * 3600 / cfg.telemetry.sample_interval_s)  # 0 s, 10 s, ...

    readings = got["readings"]
    assert len(readings) == 8
    loaded = 0
    for r in readings:
        watts, kwh = r["0x0034"], r["0x0048"]
        # Power and energy from one read are the simulator's at one and the same instant.
        assert (watts, kwh) in truth.pairs, (watts, kwh)
        assert r["0x0046"] == 50.0
        volts = [r["0x0000"], r["0x0002"], r["0x0004"]]
        assert all(227.0 <= v <= 233.0 for v in volts), volts
        phase_w = [r["0x000C"], r["0x000E"], r["0x0010"]]
        assert math.isclose(sum(phase_w), watts, rel_tol=1e-6)
        amps = [r["0x0006"], r["0x0008"], r["0x000A"]]
        if watts > 0:
            loaded += 1
            assert r["0x001E"] == f32(PF)
            for p, v, i in zip(phase_w, volts, amps, strict=True):
                assert math.isclose(i, p / (v * PF), rel_tol=1e-6), (p, v, i)
        else:
            assert amps == [0.0, 0.0, 0.0]
    assert loaded >= 3, "too few readings with the press drawing power to compare"
    # Different instants: the meter moved between them.
    assert len({r["0x0048"] for r in readings}) >= 3

    probes = got["probes"]
    # An address with no meter behind it: what a Modbus TCP to RS-485 gateway answers.
    assert probes["unknown_unit"] == {"exception": EXC_GATEWAY_NO_RESPONSE}
    assert probes["past_the_map"] == {"exception": EXC_ILLEGAL_ADDRESS}
    assert probes["too_many"] == {"exception": EXC_ILLEGAL_VALUE}
    assert probes["holding"] == {"exception": EXC_ILLEGAL_FUNCTION}
    # ... and the server still answers after all of them: total kWh (import + export, and
    # nothing is ever exported) is a reading of the true meter, later than the last read.
    regs = probes["total_kwh"]["registers"]
    total = struct.unpack(">f", struct.pack(">HH", *regs))[0]
    assert total in {kwh for _, kwh in truth.pairs}
    assert total >= readings[-1]["0x0048"]


@pytest.mark.parametrize(
    ("listen", "says"),
    [
        ("5020", "expected HOST:PORT"),
        ("127.0.0.1:http", "the port must be a number"),
        ("127.0.0.1:70000", "the port must be 1-65535"),
    ],
)
def test_a_bad_listen_address_is_a_clear_error(listen: str, says: str) -> None:
    r = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1m", "--modbus", listen)
    assert r.returncode == 1
    assert f"--modbus: {says}" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1m",
                    "--modbus", f"127.0.0.1:{port}")  # fmt: skip
    assert r.returncode == 1
    assert f"--modbus: cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_plant_without_legacy_machines_is_a_clear_error(tmp_path: Path) -> None:
    text = PLANT.read_text().replace("connectivity: legacy", "connectivity: full")
    cfg = tmp_path / "plant.yaml"
    cfg.write_text(text)
    r = run_cli("sim", "--config", str(cfg), "--fast", "--duration", "1m",
                "--modbus", f"127.0.0.1:{free_port()}")  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "no `connectivity: legacy` station" in r.stderr


def test_binding_beyond_loopback_warns(tmp_path: Path) -> None:
    r = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1m",
                "--modbus", f"0.0.0.0:{free_port()}")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Modbus TCP has no authentication and no encryption" in r.stderr


def test_the_demo_checks_its_modbus_address_before_starting_anything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run_cli("demo", "--data-dir", str(data), "--modbus", "5020")
    assert r.returncode == 1
    assert "--modbus: expected HOST:PORT" in r.stderr
    assert not data.exists()
