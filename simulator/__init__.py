"""The SimPy plant model: stations, buffers, shifts, failures and energy, emitting telemetry."""

from simulator.plant import Plant
from simulator.run import RunResult, run

__all__ = ["Plant", "RunResult", "run"]
