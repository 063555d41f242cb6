"""What each machine kind measures besides power, and how it fails.

Process values follow a first-order lag toward a target that depends on the state class
(running / powered but not running / off), so a spindle warms while cutting and cools on a
break the way a real one does. Ambient is 28 °C, a Ho Chi Minh City shop floor.
"""

from __future__ import annotations

from dataclasses import dataclass

AMBIENT_C = 28.0


@dataclass(frozen=True, slots=True)
class ProcessValue:
    name: str  # `<what>_<unit>`, the telemetry field
    running: float
    powered: float  # idle, starved, blocked, setup, down, planned_stop
    off: float
    tau_s: float  # time constant of the lag; 0 means it follows the state at once
    noise_sd: float


@dataclass(frozen=True, slots=True)
class KindSpec:
    values: tuple[ProcessValue, ...]
    failure_modes: tuple[tuple[str, float], ...]  # (reason, relative weight)


KINDS: dict[str, KindSpec] = {
    "cnc": KindSpec(
        (
            ProcessValue("spindle_temp_c", 55.0, 36.0, AMBIENT_C, 900.0, 0.3),
            ProcessValue("vibration_mm_s", 2.8, 0.4, 0.0, 0.0, 0.25),
        ),
        (
            ("tool_breakage", 35),
            ("spindle_overload", 20),
            ("axis_alarm", 20),
            ("coolant_fault", 15),
            ("door_interlock", 10),
        ),
    ),
    "press": KindSpec(
        (
            ProcessValue("hydraulic_pressure_bar", 180.0, 40.0, 0.0, 0.0, 3.0),
            ProcessValue("oil_temp_c", 48.0, 38.0, AMBIENT_C, 1200.0, 0.2),
        ),
        (("die_jam", 40), ("misfeed", 30), ("hydraulic_leak", 15), ("sensor_fault", 15)),
    ),
    "injection_molding": KindSpec(
        (
            ProcessValue("barrel_temp_c", 230.0, 215.0, AMBIENT_C, 1800.0, 0.8),
            ProcessValue("mold_temp_c", 60.0, 50.0, AMBIENT_C, 1200.0, 0.3),
        ),
        (
            ("mold_sticking", 30),
            ("nozzle_clog", 25),
            ("heater_band_failure", 20),
            ("hydraulic_fault", 25),
        ),
    ),
    "assembly": KindSpec(
        (ProcessValue("air_pressure_bar", 6.1, 6.3, 0.0, 0.0, 0.05),),
        (("part_jam", 40), ("gripper_fault", 25), ("screwdriver_fault", 20), ("vision_fault", 15)),
    ),
    "test": KindSpec(
        (ProcessValue("fixture_temp_c", 31.0, 29.0, AMBIENT_C, 600.0, 0.1),),
        (("fixture_fault", 45), ("tester_comm_error", 35), ("calibration_drift", 20)),
    ),
    "packaging": KindSpec(
        (ProcessValue("motor_temp_c", 45.0, 33.0, AMBIENT_C, 900.0, 0.3),),
        (("film_break", 35), ("label_jam", 35), ("carton_jam", 30)),
    ),
    "welding": KindSpec(
        (
            ProcessValue("weld_current_a", 180.0, 0.0, 0.0, 0.0, 4.0),
            ProcessValue("torch_temp_c", 70.0, 35.0, AMBIENT_C, 300.0, 0.5),
        ),
        (("wire_feed_fault", 40), ("torch_collision", 30), ("gas_flow_low", 30)),
    ),
    "paint": KindSpec(
        (
            ProcessValue("booth_temp_c", 24.0, 24.0, AMBIENT_C, 1200.0, 0.1),
            ProcessValue("booth_humidity_pct", 55.0, 55.0, 75.0, 1800.0, 0.5),
        ),
        (("nozzle_clog", 45), ("conveyor_stop", 35), ("filter_clogged", 20)),
    ),
    "generic": KindSpec((), (("breakdown", 1),)),
}
