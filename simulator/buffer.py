"""A finite buffer between two stations of a serial line.

One producer and one consumer per buffer, so a hand-rolled buffer with at most one waiting
taker and one waiting giver replaces simpy.Store: a part that is there is taken without
scheduling an event, which roughly halves the events per part in a busy line.
"""

from __future__ import annotations

from collections import deque

import simpy

EMPTY = object()


class Buffer:
    __slots__ = ("_giver", "_taker", "capacity", "env", "items")

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.capacity = capacity
        self.items: deque[int] = deque()
        self._taker: simpy.Event | None = None
        self._giver: tuple[simpy.Event, int] | None = None

    def take(self) -> object:
        """A part at once, or EMPTY; taking frees a slot for a giver that waits."""
        if not self.items:
            return EMPTY
        part = self.items.popleft()
        if self._giver is not None:
            ev, waiting = self._giver
            self._giver = None
            self.items.append(waiting)
            ev.succeed()
        return part

    def wait_take(self) -> simpy.Event:
        ev = simpy.Event(self.env)
        self._taker = ev
        return ev

    def give(self, part: int) -> bool:
        """Place a part at once if there is room (or a taker waiting); False when full."""
        if self._taker is not None:
            ev = self._taker
            self._taker = None
            ev.succeed(part)
            return True
        if len(self.items) < self.capacity:
            self.items.append(part)
            return True
        return False

    def wait_give(self, part: int) -> simpy.Event:
        ev = simpy.Event(self.env)
        self._giver = (ev, part)
        return ev

    def __len__(self) -> int:
        return len(self.items)
