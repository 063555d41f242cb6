"""An independent Modbus TCP client, run as its own process: what a gateway polling the
simulator's meters sees. Prints one JSON object on stdout.

    python poll.py HOST PORT UNIT --reads N [--timeout S]

It reads input registers 0x0000-0x004B (one request: voltages to import kWh, one instant)
until it has N distinct readings or the timeout passes, then probes what a gateway may get
wrong: an unknown unit id, a read past the register map, a read of more than 80 registers,
holding registers (FC3), and reads once more (the server must still answer).
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from typing import Any

from pymodbus.client import ModbusTcpClient

SPAN = 0x004C  # registers 0x0000-0x004B: phase voltages ... total import kWh (0x0048)


def floats(regs: list[int]) -> dict[str, float]:
    """Every float32 (high word first, as the SDM630) at an even address, by hex address."""
    return {
        f"0x{a:04X}": struct.unpack(">f", struct.pack(">HH", regs[a], regs[a + 1]))[0]
        for a in range(0, len(regs) - 1, 2)
    }


def outcome(r: Any) -> dict[str, Any]:
    if r.isError():
        return {"exception": getattr(r, "exception_code", None)}
    return {"registers": list(r.registers)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("unit", type=int)
    ap.add_argument("--reads", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    client = ModbusTcpClient(args.host, port=args.port, timeout=3, retries=0)
    if not client.connect():
        raise SystemExit(f"cannot connect to {args.host}:{args.port}")
    readings: list[dict[str, float]] = []
    seen: set[tuple[int, ...]] = set()
    deadline = time.monotonic() + args.timeout
    while len(readings) < args.reads and time.monotonic() < deadline:
        r = client.read_input_registers(0, count=SPAN, device_id=args.unit)
        if r.isError():
            raise SystemExit(f"read failed: {r}")
        key = tuple(r.registers)
        if key not in seen:
            seen.add(key)
            readings.append(floats(list(r.registers)))
    unit = args.unit
    probes = {
        "unknown_unit": outcome(client.read_input_registers(0, count=2, device_id=unit + 100)),
        "past_the_map": outcome(client.read_input_registers(0x017C, count=4, device_id=unit)),
        "too_many": outcome(client.read_input_registers(0, count=82, device_id=unit)),
        "holding": outcome(client.read_holding_registers(0, count=2, device_id=unit)),
        "total_kwh": outcome(client.read_input_registers(0x0156, count=2, device_id=unit)),
    }
    client.close()
    print(json.dumps({"readings": readings, "probes": probes}))


if __name__ == "__main__":
    main()
