"""Run a plant: as fast as possible (backfill), paced against the wall clock, or both in turn."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import simpy

from shopfloor import clock
from shopfloor.config.schema import PlantConfig
from simulator.commands import Commander, CommandInbox
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
    """Backfill as fast as possible until sim time meets the wall clock, then pace, never
    past the clock (a start ahead of it, left by an earlier run, waits for it)."""
    while True:
        lag_s = (clock.now_ms() - start_ms) / 1000.0 - env.now
        if lag_s <= 0.05:
            break
        yield env.timeout(lag_s)
    env.follow_clock(start_ms)
    env.set_speed(speed)


def _stop_handlers(
    env: PacedEnvironment, sink: Sink
) -> dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None]:
    """SIGINT and SIGTERM ask the run to stop (PacedEnvironment.stop) instead of raising
    KeyboardInterrupt wherever the simulation thread happens to be: inside a publish, an
    exception would leave the sink's counts off by one and its close() waiting for an
    acknowledgement that never comes. A sink blocked waiting for queue space (a backfill
    ahead of its broker) is told to stop waiting, and its close() delivers within a short
    budget. An ignored SIGINT (a background job) stays ignored. Returns the handlers to
    restore; none are installed outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    sinks = getattr(sink, "sinks", (sink,))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        env.stop()
        for s in sinks:
            stop_waiting = getattr(s, "stop_waiting", None)
            if stop_waiting is not None:
                stop_waiting()

    before: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    for sig in _STOP_SIGNALS:
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN:
            continue
        before[sig] = signal.SIG_DFL if current is None else current  # None: set outside Python
        signal.signal(sig, on_signal)
    return before


def run(
    cfg: PlantConfig,
    sink: Sink,
    start_ms: int,
    duration_s: float | None,
    speed: float | None = None,
    seed: int | None = None,
    *,
    then_live: bool = False,
    inbox: CommandInbox | queue.SimpleQueue[tuple[str, bytes]] | None = None,
    wake: threading.Event | None = None,
    resume: dict[str, Resume] | None = None,
) -> RunResult:
    """speed None: as fast as possible. then_live: fast up to now, then at `speed` (default 1).
    inbox/wake: commands from another thread (the MQTT sink), applied in sim time.
    SIGINT or SIGTERM ends the run cleanly at any moment: books closed, final messages sent
    (within a short budget if the broker lags), `interrupted` set."""
    env = PacedEnvironment(None if then_live else speed, wake)
    # From here a stop signal only sets a flag: one during set-up ends the run at its start.
    before = _stop_handlers(env, sink)
    try:
        plant = Plant(env, cfg, sink, start_ms, seed=seed, resume=resume)
        attach = getattr(sink, "attach", None)
        if attach is not None:
            # A sink that serves the plant's live state over another protocol reads what no
            # message carries from the stations themselves (a legacy machine's true meter for
            # the Modbus meters, simulator/modbus).
            attach(plant)
        if inbox is not None:
            commander = Commander(plant, inbox)
            env.on_wake = commander.drain
            env.pending = lambda: not inbox.empty()
            if speed is not None and not then_live:
                # A paced run's speed from its start (a live run announces it on reaching
                # the clock): the Simulation page shows the speed in use, not a guess.
                commander.announce_speed()
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
            if duration_s is None:
                env.run()
            else:
                env.run(until=duration_s)
        except KeyboardInterrupt:  # raised by a caller's own handler of another signal
            interrupted = True
        interrupted = interrupted or env.stopping
        plant.close()
        sink.close()
        wall = time.perf_counter() - t0
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    events = next(env._eid)  # SimPy's counter of scheduled events
    return RunResult(plant.report(), env.now, wall, events, interrupted)
