"""How close what the store measured must be to the simulator's ground truth: the tolerances of
`shopfloor reconcile` and of the dashboard's Truth page, defined once.

- Counts exactly (every part is a message of its own).
- Seconds per state within 1 s: each ts is rounded to the millisecond, and a range's ends
  fall between two messages.
- OEE (and each of A, P, Q) within 0.5 percentage points.
- Energy within 1e-3 kWh over a whole run, whose final meter reading is sent at its end. Over
  an arbitrary range the store has only the meter's readings, one every energy_interval_s, so
  a range's metered energy is that of a window shifted by up to one interval at each end:
  `metered_kwh` adds a machine's highest power over two intervals.
- A legacy machine (a power meter only) has its running time inferred from power samples:
  within 2% or one sample interval, whichever is larger.
"""

from __future__ import annotations

from shopfloor.config.schema import PlantConfig

COUNT = 0
STATE_S = 1.0
RATIO = 0.005  # OEE, availability, performance, quality
ENERGY_KWH = 1e-3
LEGACY_RUNNING_REL = 0.02


def legacy_running_s(want_s: float, sample_interval_s: float) -> float:
    return max(LEGACY_RUNNING_REL * want_s, sample_interval_s)


def metered_kwh(cfg: PlantConfig) -> dict[str, float]:
    """Per machine, the energy tolerance of a range cut anywhere (see the module docstring)."""
    every_h = cfg.telemetry.energy_interval_s / 3600
    return {
        st.id: ENERGY_KWH + 2 * max(st.power_kw.by_state().values()) * every_h
        for _, st in cfg.stations()
    }
