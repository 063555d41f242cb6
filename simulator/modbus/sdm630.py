"""The Eastron SDM630 (Modbus V2) input registers a legacy machine's clamp-on meter serves.

The map is Eastron's, as published in the SDM630-Modbus V2 user manual (B+G e-tech / Eastron,
"Modbus Protocol Input Registers", read with function code 4): every parameter is a 32-bit
IEEE-754 float in two consecutive registers, high word first, big-endian bytes (ABCD), at the
0-based PDU addresses below (the manual's 3X register number is address + 30001). docs/modbus.md
has the table with what the simulator puts in each one and why.

What a three-phase meter on a machine shows is derived from the one figure the simulator has,
the machine's active power, under stated assumptions: the load is balanced (each phase carries
a third), the supply is 230 V line to neutral and 50 Hz (Vietnam's grid), and the power factor
is a constant `POWER_FACTOR` (lagging, an induction-motor drive at part load). Nothing is ever
exported, so export registers read 0 and total kWh equals import kWh.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

NOMINAL_V = 230.0
FREQUENCY_HZ = 50.0
# cos(phi) of the machine's motor drive: 0.85 lagging is typical of a mechanical press's
# induction motor at part load (a motor's nameplate cos(phi) is 0.8-0.9 at full load).
POWER_FACTOR = 0.85
_ANGLE_DEG = math.degrees(math.acos(POWER_FACTOR))
_TAN_PHI = math.tan(math.acos(POWER_FACTOR))

# The input-register space a real SDM630 answers: the manual's table ends with L3 total kvarh
# at 30381 (address 0x017C, two registers). Addresses in it that the table does not list read
# 0.0 (a gateway that merges reads across gaps gets an answer, as from the meter); a read that
# reaches past it is answered with exception 2 (illegal data address).
REGISTER_COUNT = 0x017E
# "Each request for data must be restricted to 40 parameters or less" (the manual): a longer
# read is answered with exception 3 (illegal data value).
MAX_READ_REGISTERS = 80


class Param(NamedTuple):
    address: int
    name: str
    unit: str


# The parameters the simulator fills (docs/modbus.md, The register map); the rest read 0.
PARAMS: tuple[Param, ...] = (
    Param(0x0000, "Phase 1 line to neutral volts", "V"),
    Param(0x0002, "Phase 2 line to neutral volts", "V"),
    Param(0x0004, "Phase 3 line to neutral volts", "V"),
    Param(0x0006, "Phase 1 current", "A"),
    Param(0x0008, "Phase 2 current", "A"),
    Param(0x000A, "Phase 3 current", "A"),
    Param(0x000C, "Phase 1 active power", "W"),
    Param(0x000E, "Phase 2 active power", "W"),
    Param(0x0010, "Phase 3 active power", "W"),
    Param(0x0012, "Phase 1 apparent power", "VA"),
    Param(0x0014, "Phase 2 apparent power", "VA"),
    Param(0x0016, "Phase 3 apparent power", "VA"),
    Param(0x0018, "Phase 1 reactive power", "VAr"),
    Param(0x001A, "Phase 2 reactive power", "VAr"),
    Param(0x001C, "Phase 3 reactive power", "VAr"),
    Param(0x001E, "Phase 1 power factor", ""),
    Param(0x0020, "Phase 2 power factor", ""),
    Param(0x0022, "Phase 3 power factor", ""),
    Param(0x0024, "Phase 1 phase angle", "degrees"),
    Param(0x0026, "Phase 2 phase angle", "degrees"),
    Param(0x0028, "Phase 3 phase angle", "degrees"),
    Param(0x002A, "Average line to neutral volts", "V"),
    Param(0x002E, "Average line current", "A"),
    Param(0x0030, "Sum of line currents", "A"),
    Param(0x0034, "Total system power", "W"),
    Param(0x0038, "Total system volt amps", "VA"),
    Param(0x003C, "Total system VAr", "VAr"),
    Param(0x003E, "Total system power factor", ""),
    Param(0x0042, "Total system phase angle", "degrees"),
    Param(0x0046, "Frequency of supply voltages", "Hz"),
    Param(0x0048, "Total import kWh", "kWh"),
    Param(0x004A, "Total export kWh", "kWh"),
    Param(0x004C, "Total import kVArh", "kVArh"),
    Param(0x004E, "Total export kVArh", "kVArh"),
    Param(0x0156, "Total kWh", "kWh"),
    Param(0x0158, "Total kVArh", "kVArh"),
)

ADDRESS = {p.name: p.address for p in PARAMS}

_F32 = struct.Struct(">f")


def readings(
    power_kw: float, energy_kwh: float, volts: tuple[float, float, float]
) -> dict[int, float]:
    """Every filled register's value, by address, for a machine drawing `power_kw` now whose
    meter reads `energy_kwh`, with these three line-to-neutral voltages."""
    p_w = power_kw * 1000.0
    loaded = p_w > 0.0
    pf = POWER_FACTOR if loaded else 1.0  # an unloaded meter shows 1.000, no angle
    angle = _ANGLE_DEG if loaded else 0.0
    phase_w = p_w / 3.0
    amps = [phase_w / (v * POWER_FACTOR) if loaded else 0.0 for v in volts]
    va = phase_w / POWER_FACTOR if loaded else 0.0
    var = phase_w * _TAN_PHI if loaded else 0.0
    kvarh = energy_kwh * _TAN_PHI  # the power factor never changes while loaded
    out = {
        0x002A: sum(volts) / 3.0,
        0x002E: sum(amps) / 3.0,
        0x0030: sum(amps),
        0x0034: p_w,
        0x0038: 3.0 * va,
        0x003C: 3.0 * var,
        0x003E: pf,
        0x0042: angle,
        0x0046: FREQUENCY_HZ,
        0x0048: energy_kwh,
        0x004A: 0.0,
        0x004C: kvarh,
        0x004E: 0.0,
        0x0156: energy_kwh,
        0x0158: kvarh,
    }
    for k in range(3):
        out[0x0000 + 2 * k] = volts[k]
        out[0x0006 + 2 * k] = amps[k]
        out[0x000C + 2 * k] = phase_w
        out[0x0012 + 2 * k] = va
        out[0x0018 + 2 * k] = var
        out[0x001E + 2 * k] = pf
        out[0x0024 + 2 * k] = angle
    return out


def image(values: dict[int, float]) -> list[int]:
    """The whole input-register space as 16-bit words: each value a float32, high word first."""
    regs = [0] * REGISTER_COUNT
    for address, v in values.items():
        hi, lo = struct.unpack(">HH", _F32.pack(v))
        regs[address] = hi
        regs[address + 1] = lo
    return regs
