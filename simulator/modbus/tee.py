"""The sink tee that keeps the Modbus meters at the simulator's instants.

Every telemetry sample a legacy machine emits (simulator/station.py, `sample`) sets its meter's
registers: the power the message carries, the station's true energy meter at that same sim
instant (`Station.meter_reading_kwh`, what no legacy message carries), and three phase
voltages. So a gateway polling the meter reads exactly what the simulator published at the
last sample instant, and the energy the station really used up to it.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from typing import Any

from shopfloor.config.modbus_units import unit_ids
from shopfloor.config.schema import PlantConfig
from shopfloor.contract import machine_prefix
from simulator.modbus import sdm630
from simulator.modbus.server import ModbusMeters

log = logging.getLogger("shopfloor.sim")

# Line-to-neutral voltage noise: Irwin-Hall(3) (bell-shaped, bounded) with a 1 V standard
# deviation, so each phase reads within 230 +- 3 V, as a grid within its tolerance does.
_VOLT_SD = 1.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ModbusTee:
    """A sink (simulator.sinks) that serves every legacy machine as an SDM630 on host:port."""

    def __init__(self, cfg: PlantConfig, host: str, port: int):
        self.units = unit_ids(cfg)
        if not self.units:
            raise ValueError(
                "the plant has no `connectivity: legacy` station: Modbus serves legacy "
                "machines' clamp-on meters"
            )
        p = cfg.plant
        self._topic_unit: dict[str, tuple[int, str]] = {
            f"{machine_prefix(p.enterprise, p.site, line.area, line.id, st.id)}/telemetry": (
                self.units[st.id],
                st.id,
            )
            for line, st in cfg.stations()
            if st.id in self.units
        }
        start = sdm630.image(sdm630.readings(0.0, 0.0, (sdm630.NOMINAL_V,) * 3))
        self.server = ModbusMeters(host, port, dict.fromkeys(self.units.values(), start))
        self._stations: dict[str, Any] = {}
        self._rngs: dict[str, random.Random] = {}
        self.count = 0

    def start(self) -> ModbusTee:
        s = self.server
        s.start()
        where = f"{s.host}:{s.port}"
        units = ", ".join(f"{sid}={u}" for sid, u in self.units.items())
        log.info("Modbus TCP: SDM630 meters on %s, unit ids %s (docs/modbus.md)", where, units)
        if not is_loopback(s.host):
            log.warning(
                "Modbus TCP has no authentication and no encryption: anyone who reaches %s "
                "reads these meters. Serve on 127.0.0.1 unless this network is closed to "
                "all but your gateway",
                where,
            )
        return self

    def attach(self, plant: Any) -> None:
        """The built plant (simulator.run): its legacy stations and their meters."""
        for st in plant.stations:
            if st.id in self.units:
                self._stations[st.id] = st
                # Its own stream, made only when Modbus is on: the plant's draws never change.
                self._rngs[st.id] = random.Random(f"{st.stream}/modbus")
                self._update(st.id, 0.0)

    def _volts(self, sid: str) -> tuple[float, float, float]:
        rnd = self._rngs[sid].random
        v = sdm630.NOMINAL_V
        return (
            v + 2.0 * _VOLT_SD * (rnd() + rnd() + rnd() - 1.5),
            v + 2.0 * _VOLT_SD * (rnd() + rnd() + rnd() - 1.5),
            v + 2.0 * _VOLT_SD * (rnd() + rnd() + rnd() - 1.5),
        )

    def _update(self, sid: str, power_kw: float) -> None:
        st = self._stations[sid]
        values = sdm630.readings(power_kw, st.meter_reading_kwh(), self._volts(sid))
        self.server.set_image(self.units[sid], sdm630.image(values))

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.count += 1
        hit = self._topic_unit.get(topic)
        if hit is not None and hit[1] in self._stations:
            self._update(hit[1], payload["power_kw"])

    def close(self) -> None:
        self.server.stop()
