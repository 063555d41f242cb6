"""Run a plant: as fast as possible (backfill), paced against the wall clock, or both in turn."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from shopfloor import clock
from shopfloor.config.schema import PlantConfig
from simulator.commands import Commander
from simulator.paced_env import PacedEnvironment
from simulator.plant import Plant
from simulator.resume import Resume
from simulator.sinks import Sink

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@dataclass
class RunResult:
    report: dict[str, Any]
    sim_s: float
    wall_s: float
    events: int  # SimPy events scheduled: the model's unit of work
    interrupted: bool


def go_live(
    env: PacedEnvironment, start_ms: int, speed: float
) -> Generator[simpy.Event, Any, None]:
    """Backfill as fast as possible until sim time meets the wall clock, then pace."""
    while True:
        lag_s = (clock.now_ms() - start_ms) / 1000.0 - env.now
        if lag_s <= 0.05:
            break
        yield env.timeout(lag_s)
    env.set_speed(speed)


def run(
    cfg: PlantConfig,
    sink: Sink,
    start_ms: int,
    duration_s: float | None,
    speed: float | None = None,
    seed: int | None = None,
    *,
    then_live: bool = False,
    inbox: queue.SimpleQueue[tuple[str, bytes]] | None = None,
    wake: threading.Event | None = None,
    resume: dict[str, Resume] | None = None,
) -> RunResult:
    """speed None: as fast as possible. then_live: fast up to now, then at `speed` (default 1).
    inbox/wake: commands from another thread (the MQTT sink), applied in sim time."""
    env = PacedEnvironment(None if then_live else speed, wake)
    # A stop signal during set-up waits until the run can close its books and report.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        plant = Plant(env, cfg, sink, start_ms, seed=seed, resume=resume)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        raise
    if inbox is not None:
        env.on_wake = Commander(plant, inbox).drain
        env.pending = lambda: not inbox.empty()
    pump = getattr(sink, "pump", None)
    if pump is not None:
        # A live run sleeps between events; a publish backlog is handed over meanwhile.
        env.on_idle = pump
        sink.waker = env.wake.set  # type: ignore[attr-defined]
    if then_live:
        env.process(go_live(env, start_ms, speed or 1.0))
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
