"""Stamps a machine's messages with sim-clock `ts` and its own `seq`, then hands them to a sink."""

from __future__ import annotations

from typing import Any

import simpy

from shopfloor.contract import RETAINED
from simulator.sinks import Sink


class MachineEmitter:
    __slots__ = ("_topics", "env", "prefix", "seq", "sink", "start_ms")

    def __init__(
        self, env: simpy.Environment, sink: Sink, prefix: str, start_ms: int, seq: int = 0
    ):
        self.env = env
        self.sink = sink
        self.prefix = prefix
        self.start_ms = start_ms
        self.seq = seq
        self._topics: dict[str, str] = {}

    def ts_ms(self) -> int:
        return self.start_ms + round(self.env.now * 1000.0)

    def topic(self, channel: str) -> str:
        t = self._topics.get(channel)
        if t is None:
            t = self._topics[channel] = f"{self.prefix}/{channel}"
        return t

    def emit(self, channel: str, body: dict[str, Any], ts_ms: int | None = None) -> None:
        """A sequenced message: `{"ts", "seq", **body}`; a sampler passes one ts for all."""
        self.seq += 1
        payload = {"ts": self.ts_ms() if ts_ms is None else ts_ms, "seq": self.seq}
        payload.update(body)
        self.sink.emit(self.topic(channel), payload, channel in RETAINED)

    def status(self, body: dict[str, Any]) -> None:
        """Birth/death: retained and outside the seq sequence (see shopfloor.contract)."""
        payload = {"ts": self.ts_ms()}
        payload.update(body)
        self.sink.emit(self.topic("status"), payload, True)
