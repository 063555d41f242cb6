"""Maintenance and wear of a station (issue 12): the `maintenance:` and `tool_wear:` keys.

- `maintenance.weibull_shape`: failures wear in. The time to failure is Weibull with this
  shape and the scale that keeps `mtbf_min` its mean, drawn given the running time since the
  last maintenance (a repair of a failure renews the machine too). Shape 1 is the constant
  failure rate of a station without the key.
- `maintenance.every_running_h` and/or `maintenance.at`: preventive maintenance, a
  `planned_stop` ("preventive maintenance") of `duration_min` that renews the machine.
- `maintenance.precursors`: per failure mode, a process value that drifts for `lead_min` of
  running time before that failure (the ground truth lists each failure with its start).
- `tool_wear`: a process value drifts with the parts made since the last tool change, scrap
  rises with it, and every `change_every_parts` parts the tool is changed (a `setup`).

The kernel cannot read the simulator's kind table (simulator/kinds.py), so the names a key may
refer to are listed here; tests/simulator/test_maintenance.py checks both lists agree.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

_ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
_Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]

# Process values and failure modes per machine kind, as simulator/kinds.py defines them.
KIND_VALUES: dict[str, tuple[str, ...]] = {
    "cnc": ("spindle_temp_c", "vibration_mm_s"),
    "press": ("hydraulic_pressure_bar", "oil_temp_c"),
    "injection_molding": ("barrel_temp_c", "mold_temp_c"),
    "assembly": ("air_pressure_bar",),
    "test": ("fixture_temp_c",),
    "packaging": ("motor_temp_c",),
    "welding": ("weld_current_a", "torch_temp_c"),
    "paint": ("booth_temp_c", "booth_humidity_pct"),
    "generic": (),
}
KIND_FAILURES: dict[str, tuple[str, ...]] = {
    "cnc": (
        "tool_breakage",
        "spindle_overload",
        "axis_alarm",
        "coolant_fault",
        "door_interlock",
    ),
    "press": ("die_jam", "misfeed", "hydraulic_leak", "sensor_fault"),
    "injection_molding": ("mold_sticking", "nozzle_clog", "heater_band_failure", "hydraulic_fault"),
    "assembly": ("part_jam", "gripper_fault", "screwdriver_fault", "vision_fault"),
    "test": ("fixture_fault", "tester_comm_error", "calibration_drift"),
    "packaging": ("film_break", "label_jam", "carton_jam"),
    "welding": ("wire_feed_fault", "torch_collision", "gas_flow_low"),
    "paint": ("nozzle_clog", "conveyor_stop", "filter_clogged"),
    "generic": ("breakdown",),
}

PM_REASON = "preventive maintenance"
TOOL_CHANGE_REASON = "tool change"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaintenanceTime(_Strict):
    """A calendar maintenance window: at `start` (plant-local) on each of `days`."""

    start: _ClockTime
    days: list[_Weekday] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], min_length=1
    )


class Precursor(_Strict):
    value: str  # a process value of the station's kind
    drift: Annotated[float, Field(allow_inf_nan=False)]  # added to it at the failure
    lead_min: _Positive  # running time before the failure the drift starts


class Maintenance(_Strict):
    weibull_shape: Annotated[float, Field(ge=0.2, le=20, allow_inf_nan=False)] | None = None
    every_running_h: _Positive | None = None
    at: list[MaintenanceTime] = Field(default_factory=list)
    duration_min: _Positive | None = None
    precursors: dict[str, Precursor] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _duration_with_windows(self) -> Maintenance:
        planned = self.every_running_h is not None or bool(self.at)
        if planned and self.duration_min is None:
            raise ValueError("duration_min is required with every_running_h or at")
        if self.duration_min is not None and not planned:
            raise ValueError("duration_min needs every_running_h or at (when to maintain)")
        return self

    @property
    def planned(self) -> bool:
        return self.every_running_h is not None or bool(self.at)


class ToolWear(_Strict):
    value: str  # a process value of the station's kind, e.g. a cnc's vibration_mm_s
    drift: Annotated[float, Field(allow_inf_nan=False)]  # its shift when the tool is changed
    change_every_parts: Annotated[int, Field(ge=1)]
    change_min: _Positive
    # Scrap probability just before the change; from the station's scrap_rate on a new tool,
    # rising with the square of the wear (the drift), so scrap peaks at the change.
    scrap_rate_worn: _Probability


def findings(
    kind: str, mtbf_min: float | None, m: Maintenance | None, tw: ToolWear | None, path: str
) -> list[tuple[str, str]]:
    """Rules across keys: names of the station's kind, Weibull and precursors need failures."""
    found: list[tuple[str, str]] = []
    values = KIND_VALUES.get(kind, ())
    known = ", ".join(values) or "none"
    if m is not None:
        if m.weibull_shape is not None and mtbf_min is None:
            found.append((f"{path}.maintenance.weibull_shape", "needs mtbf_min (failures)"))
        if m.precursors and mtbf_min is None:
            found.append((f"{path}.maintenance.precursors", "needs mtbf_min (failures)"))
        modes = KIND_FAILURES.get(kind, ())
        for mode, pre in m.precursors.items():
            p = f"{path}.maintenance.precursors.{mode}"
            if mode not in modes:
                found.append(
                    (p, f"{kind} has no failure mode {mode!r} (known: {', '.join(modes)})")
                )
            if pre.value not in values:
                found.append(
                    (f"{p}.value", f"{kind} has no process value {pre.value!r} (known: {known})")
                )
    if tw is not None and tw.value not in values:
        found.append(
            (
                f"{path}.tool_wear.value",
                f"{kind} has no process value {tw.value!r} (known: {known})",
            )
        )
    return found
