"""Run a plant: as fast as possible (backfill) or paced against the wall clock."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Any

import simpy
import simpy.rt

from shopfloor.config.schema import PlantConfig
from simulator.plant import Plant
from simulator.sinks import Sink

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@dataclass
class RunResult:
    report: dict[str, Any]
    sim_s: float
    wall_s: float
    events: int  # SimPy events scheduled: the model's unit of work
    interrupted: bool


def make_env(speed: float | None) -> simpy.Environment:
    """speed None: as fast as possible; otherwise sim seconds per wall second."""
    if speed is None:
        return simpy.Environment()
    return simpy.rt.RealtimeEnvironment(factor=1.0 / speed, strict=False)


def run(
    cfg: PlantConfig,
    sink: Sink,
    start_ms: int,
    duration_s: float | None,
    speed: float | None = None,
    seed: int | None = None,
) -> RunResult:
    env = make_env(speed)
    # A stop signal during set-up waits until the run can close its books and report.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        plant = Plant(env, cfg, sink, start_ms, seed=seed)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        raise
    t0 = time.perf_counter()
    interrupted = False
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        if duration_s is None:
            env.run()
        else:
            env.run(until=duration_s)
    except KeyboardInterrupt:
        interrupted = True
    plant.close()
    sink.close()
    wall = time.perf_counter() - t0
    events = next(env._eid)  # SimPy's counter of scheduled events
    return RunResult(plant.report(), env.now, wall, events, interrupted)
