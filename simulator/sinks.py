"""Where telemetry messages go: a JSONL file, memory (tests), nowhere (benchmarks), or MQTT."""

from __future__ import annotations

import time
from typing import IO, Any, Protocol

import orjson


class Sink(Protocol):
    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """Counts and discards; the plant's own cost without any serialisation."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.count += 1

    def close(self) -> None:
        pass


class ListSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any], bool]] = []

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.messages.append((topic, payload, retain))

    def close(self) -> None:
        pass


class JsonlSink:
    """One `{"topic": ..., "payload": {...}}` line per message, in emission order.

    orjson keeps key order and float formatting stable, which the byte-identical golden
    test relies on. Lines are batched; `flush_each` (live runs) writes every line at once
    so `tail -f` shows the plant as it happens.
    """

    def __init__(
        self,
        stream: IO[bytes],
        flush_each: bool = False,
        batch: int = 2048,
        max_delay_s: float = 0.5,
    ):
        self.stream = stream
        self.flush_each = flush_each
        self.batch = batch
        self.max_delay_s = max_delay_s
        self._buf: list[bytes] = []
        self._flushed = time.monotonic()
        self.count = 0

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self._buf.append(orjson.dumps({"topic": topic, "payload": payload}))
        self.count += 1
        if (
            self.flush_each
            or len(self._buf) >= self.batch
            or time.monotonic() - self._flushed > self.max_delay_s
        ):
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._buf.append(b"")
            self.stream.write(b"\n".join(self._buf))
            self._buf.clear()
        self.stream.flush()
        self._flushed = time.monotonic()

    def close(self) -> None:
        self.flush()


class FanoutSink:
    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    def pump(self) -> None:
        for s in self.sinks:
            pump = getattr(s, "pump", None)
            if pump is not None:
                pump()

    @property
    def waker(self) -> Any:
        return None

    @waker.setter
    def waker(self, fn: Any) -> None:
        for s in self.sinks:
            if hasattr(s, "waker"):
                s.waker = fn  # type: ignore[attr-defined]

    def attach(self, plant: Any) -> None:
        """Hand the built plant to the sinks that read it (simulator.run)."""
        for s in self.sinks:
            attach = getattr(s, "attach", None)
            if attach is not None:
                attach(plant)

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        for s in self.sinks:
            s.emit(topic, payload, retain)

    def close(self) -> None:
        for s in self.sinks:
            s.close()
