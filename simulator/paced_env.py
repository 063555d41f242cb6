"""A SimPy environment that runs as fast as possible or paced at `speed` x the wall clock, can
switch between the two mid-run, and wakes at once when a command arrives from another thread.

simpy.rt.RealtimeEnvironment sleeps until the next event and cannot change its factor without
a jump (its sync() resets the wall reference but not the sim one), so a live `set_speed` and a
sub-second reaction to commands need this instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic

import simpy
from simpy.core import EmptySchedule, Infinity, StopSimulation


class PacedEnvironment(simpy.Environment):
    def __init__(self, speed: float | None = None, wake: threading.Event | None = None):
        super().__init__(0.0)
        self.speed = speed
        self._sim_ref = 0.0
        self._wall_ref = monotonic()
        self.wake = wake or threading.Event()
        # Called in the simulation thread, at the sim time matching the wall time it woke,
        # when `pending()` says there is work (commands).
        self.on_wake: Callable[[], None] | None = None
        self.pending: Callable[[], bool] = lambda: True
        # Called in the simulation thread whenever it wakes while waiting for the wall clock:
        # I/O that must not wait for the next event (a publish backlog).
        self.on_idle: Callable[[], None] | None = None
        # Set by stop() (a signal handler): run() returns before the next event, whether the
        # run is backfilling or sleeping until the wall clock reaches its next event.
        self.stopping = False

    def stop(self) -> None:
        """Ask the run to end at the next event boundary; safe from a signal handler (it only
        sets a flag and wakes a sleeping run, no exception inside the model or a sink)."""
        self.stopping = True
        self.wake.set()

    def set_speed(self, speed: float | None) -> None:
        """None: as fast as possible. Takes effect from now, without a jump."""
        self.speed = speed
        self._sim_ref = self.now
        self._wall_ref = monotonic()

    def wall_now_sim(self) -> float:
        """The sim time that corresponds to the wall clock now (paced runs)."""
        if self.speed is None:
            return self.now
        return self._sim_ref + (monotonic() - self._wall_ref) * self.speed

    def step(self) -> None:
        if self.stopping:
            raise StopSimulation(None)
        if self.wake.is_set():
            self._woken(
                self.now
                if self.speed is None
                else min(self.peek(), max(self.now, self.wall_now_sim()))
            )
        if self.speed is not None:
            while True:
                evt_time = self.peek()
                if evt_time is Infinity:
                    raise EmptySchedule()
                real = self._wall_ref + (evt_time - self._sim_ref) / self.speed
                delay = real - monotonic()
                if delay <= 0:
                    break
                if self.on_idle is not None:
                    self.on_idle()  # flush before sleeping: nothing waits for the next event
                if self.wake.wait(delay):
                    if self.stopping:
                        raise StopSimulation(None)
                    self._woken(min(evt_time, max(self.now, self.wall_now_sim())))
        super().step()

    def _woken(self, at: float) -> None:
        self.wake.clear()
        if self.on_idle is not None:
            self.on_idle()
        if self.on_wake is None or not self.pending():
            return
        ev = simpy.Event(self)
        ev.callbacks.append(lambda _ev: self.on_wake() if self.on_wake else None)
        ev._ok = True
        ev._value = None
        self.schedule(ev, priority=0, delay=max(0.0, at - self.now))
