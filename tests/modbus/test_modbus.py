"""The legacy machines' Modbus meters (`shopfloor sim --modbus`, simulator/modbus, issue 13),
polled by an independent client in its own process (tests/modbus/poll.py, pymodbus's client)
while the simulator runs paced, compared with the simulator's ground truth: the power each
sample carried and the station's true energy meter at that instant, replayed in-process."""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
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


START = MONDAY_1100  # shift A: the press runs, idles, maybe breaks down
RUN_S = 2 * 3600.0


# The press with a clamp-on meter that sees each stroke (issue 12, simulator/meter.py): its
# power follows a per-cycle waveform sampled every 2 s, and the Modbus meter serves just that.
STROKES = (
    "        connectivity: legacy\n        meter: {sample_s: 2, stroke_kw: 60, stroke_s: 1.5}\n"
)


def plant_with_strokes(tmp: Path) -> Path:
    text = PLANT.read_text()
    assert text.count("        connectivity: legacy\n") == 1
    path = tmp / "plant-strokes.yaml"
    path.write_text(text.replace("        connectivity: legacy\n", STROKES))
    return path


def paced_sim(port: int, config: Path = PLANT) -> subprocess.Popen[str]:
    """`shopfloor sim --modbus` at 120x from START for RUN_S (a minute of wall time at most:
    the tests stop it once they have polled)."""
    return subprocess.Popen(
        cli("sim", "--config", str(config), "--start", START, "--speed", "120",
            "--duration", f"{RUN_S:g}s", "--modbus", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@functools.cache
def ground_truth(config: Path = PLANT) -> MeterTruth:
    """The same plant, seed and start, run in-process for the same time."""
    truth = MeterTruth()
    cfg = load_config(config)
    run(cfg, truth, int(clock.parse(START).at_s * 1000), RUN_S)
    # At least the plant's sampler's ticks (a clamp-on `meter:` may sample more often).
    assert truth.samples >= int(RUN_S / cfg.telemetry.sample_interval_s)
    return truth


@pytest.mark.parametrize("strokes", [False, True], ids=["plant", "stroke-meter"])
def test_polled_power_and_energy_are_the_simulators_at_the_same_instants(
    strokes: bool, tmp_path: Path
) -> None:
    config = plant_with_strokes(tmp_path) if strokes else PLANT
    port = free_port()
    sim = paced_sim(port, config)
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

    truth = ground_truth(config)
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


@pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll not installed (apt mbpoll)")
def test_mbpoll_reads_the_simulators_power_and_energy() -> None:
    """Debian's mbpoll (libmodbus, C): a second client sharing no code with the server."""
    port = free_port()
    sim = paced_sim(port)
    readings: list[dict[int, float]] = []
    try:
        wait_listening("127.0.0.1", port, timeout_s=30)
        for _ in range(3):
            # Input registers 0x34-0x4B as 12 floats, big-endian words, PDU (0-based) addresses.
            out = subprocess.run(
                ["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-t", "3:float", "-B",
                 "-0", "-r", "52", "-c", "12", "-1", "127.0.0.1"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert out.returncode == 0, out.stdout + out.stderr
            values = re.findall(r"^\[(\d+)\]:\s+(\S+)$", out.stdout, re.MULTILINE)
            readings.append({int(a): float(v) for a, v in values})
        unknown = subprocess.run(
            ["mbpoll", "-m", "tcp", "-p", str(port), "-a", "9", "-t", "3:float", "-B",
             "-0", "-r", "52", "-1", "127.0.0.1"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert sim.poll() is None, "the simulator stopped while being polled"
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=30)
    assert unknown.returncode != 0
    assert "Target device failed to respond" in unknown.stdout + unknown.stderr
    truth = ground_truth()
    for r in readings:
        watts, kwh = r[52], r[72]  # mbpoll prints 6 significant digits
        assert any(
            math.isclose(watts, w, rel_tol=1e-5, abs_tol=1e-9)
            and math.isclose(kwh, e, rel_tol=1e-5, abs_tol=1e-9)
            for w, e in truth.pairs
        ), (watts, kwh)
        assert r[70] == 50.0


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
