"""The wall clock of every service, which can be pinned: SHOPFLOOR_NOW.

Ranges ("current shift", "last 24 h"), the simulator's start and backfill, and the collector's
future-timestamp check all ask this module for "now", never time.time() directly, so a test
or a demo of a chosen moment can say what "now" is (docs/architecture.md, Time):

    SHOPFLOOR_NOW=2026-11-23T10:00:00+07:00              frozen at that instant
    SHOPFLOOR_NOW=2026-11-23T10:00:00+07:00@1795000000   that instant at the real epoch
                                                          second after '@', ticking on from it

The ticking form keeps several processes on one clock (each started at its own moment) and
lets a live simulator run; the frozen form makes a page's window exact.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from datetime import datetime

ENV = "SHOPFLOOR_NOW"


class ClockError(ValueError):
    """SHOPFLOOR_NOW cannot be read; the message names the variable and the value."""


@dataclass(frozen=True)
class Pin:
    at_s: float  # the pinned instant, epoch seconds
    since_s: float | None  # the real epoch second it was pinned at; None: frozen

    def now_s(self, real_s: float) -> float:
        return self.at_s if self.since_s is None else self.at_s + (real_s - self.since_s)

    def env(self) -> str:
        """The SHOPFLOOR_NOW value for this pin (for child processes)."""
        iso = datetime.fromtimestamp(self.at_s).astimezone().isoformat()
        return iso if self.since_s is None else f"{iso}@{self.since_s!r}"


@functools.lru_cache(maxsize=8)
def parse(text: str) -> Pin:
    instant, _, since = text.strip().partition("@")
    try:
        dt = datetime.fromisoformat(instant)
    except ValueError:
        raise ClockError(
            f"{ENV}={text!r}: not an ISO 8601 instant (example: 2026-11-23T10:00:00+07:00)"
        ) from None
    if dt.tzinfo is None:
        raise ClockError(f"{ENV}={text!r}: give the UTC offset (example: +07:00)")
    try:
        since_s = float(since) if since else None
    except ValueError:
        raise ClockError(f"{ENV}={text!r}: after '@' comes a real epoch second") from None
    return Pin(dt.timestamp(), since_s)


def pin() -> Pin | None:
    text = os.environ.get(ENV)
    return parse(text) if text else None


def now_s() -> float:
    """Epoch seconds: the wall clock, or the pinned one."""
    real = time.time()
    p = pin()
    return real if p is None else p.now_s(real)


def now_ms() -> int:
    return int(now_s() * 1000)


def ticking_from(at_s: float) -> str:
    """SHOPFLOOR_NOW for a clock that reads `at_s` now and ticks on (tests pass it to the
    services they start, so all of them share one clock)."""
    return Pin(at_s, time.time()).env()
