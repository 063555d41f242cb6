"""A SimPy environment that runs as fast as possible or paced at `speed` x the wall clock, can
switch between the two mid-run, and wakes at once when a command arrives from another thread.

A live run also follows the clock (`follow_clock`): its sim time never passes the wall clock
(shopfloor.clock), so a speed above 1 is a fast-forward that applies only while the run is
behind (catching up), and at the clock it runs at 1x whatever the speed asked. Every reader
(the dashboard's ranges, the collector's future check, a restart going on from the store's
end) cuts at the wall clock, so a plant ahead of it would disagree with all of them
(docs/architecture.md, Time).

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

from shopfloor import clock

# The longest single sleep: threading's wait raises OverflowError past TIMEOUT_MAX (about 292
# years), which a valid set_speed of 1e-9 reaches for an event 10 s of plant time away; the
# loop in step() recomputes the delay after each sleep, so a cap changes nothing else.
MAX_SLEEP_S = 3600.0


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
        # follow_clock(): the sim time the wall clock stands at now; the run never passes it.
        self.horizon: Callable[[], float] | None = None
        # Called in the simulation thread after every change of speed (set_speed): the
        # commander announces the current speed (retained) so a client learns it.
        self.on_speed: Callable[[], None] | None = None

    def follow_clock(self, start_ms: int) -> None:
        """From now on never run past the wall clock: sim time 0 is epoch ms `start_ms`."""
        self.horizon = lambda: (clock.now_ms() - start_ms) / 1000.0

    def behind_s(self) -> float | None:
        """How far the run is behind the wall clock (0 at it); None when it does not follow it."""
        return None if self.horizon is None else max(0.0, self.horizon() - self.now)

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
        if self.on_speed is not None:
            self.on_speed()

    def wall_now_sim(self) -> float:
        """The sim time that corresponds to the wall clock now (paced runs)."""
        if self.speed is None:
            return self.now
        paced = self._sim_ref + (monotonic() - self._wall_ref) * self.speed
        return paced if self.horizon is None else min(paced, self.horizon())

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
                if self.horizon is not None and evt_time > self.now:
                    # At the clock the wall clock paces (1x); behind it, `speed` does. An
                    # event at the current instant (a command woken in) moves no time, so it
                    # runs even while a restarted run waits for the clock to reach it.
                    delay = max(delay, evt_time - self.horizon())
                if delay <= 0:
                    break
                if self.on_idle is not None:
                    self.on_idle()  # flush before sleeping: nothing waits for the next event
                if self.wake.wait(min(delay, MAX_SLEEP_S)):
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
