"""`shopfloor sim --batch-ms N` (issue 15): a machine's consecutive samples of one sampled
channel within N ms of simulated time go out as one MQTT message (the batch form of the
contract, shopfloor/batch.py), which cuts the broker's and the collector's per-message cost.

It wraps the MQTT sink only (a JSONL file keeps one line per message, the ground truth). A
machine's messages keep their publish order: its pending batch goes out before any other
message of that machine (a state change, a count, a sample of the other channel), so the
collector still sees each machine's seqs rising and counts no transient gap. A batch goes out
when its window is full (the next sample is N ms or more after its first), at BATCH_MAX
elements, or at close; a live run therefore delays a sample by at most N ms plus one sample
interval. The outbox keeps a batch under its last element's seq: a watermark at or above it
covers every element.
"""

from __future__ import annotations

from typing import Any

from shopfloor.batch import BATCH_CHANNELS, BATCH_MAX, encode


class _Pending:
    __slots__ = ("channel", "elements", "first_ts", "topic")

    def __init__(self, topic: str, channel: str, payload: dict[str, Any]):
        self.topic = topic
        self.channel = channel
        self.elements = [payload]
        self.first_ts: int = payload["ts"]


class BatchingSink:
    def __init__(self, inner: Any, batch_ms: int):
        if batch_ms < 1:
            raise ValueError(f"batch window must be >= 1 ms, got {batch_ms}")
        self.inner = inner
        self.batch_ms = batch_ms
        self._pending: dict[str, _Pending] = {}  # machine prefix -> its open batch
        self.batches = 0
        self.batched = 0  # samples that went out inside a batch

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        prefix, _, channel = topic.rpartition("/")
        open_ = self._pending.get(prefix)
        if channel in BATCH_CHANNELS and not retain:
            if open_ is not None:
                if (
                    open_.channel == channel
                    and payload["ts"] - open_.first_ts < self.batch_ms
                    and len(open_.elements) < BATCH_MAX
                ):
                    open_.elements.append(payload)
                    return
                self._send(prefix, open_)
            self._pending[prefix] = _Pending(topic, channel, payload)
            return
        if open_ is not None:
            self._send(prefix, open_)
        self.inner.emit(topic, payload, retain)

    def _send(self, prefix: str, batch: _Pending) -> None:
        del self._pending[prefix]
        elements = batch.elements
        if len(elements) == 1:  # nothing to share the overhead with: the single form
            self.inner.emit(batch.topic, elements[0], False)
            return
        self.batches += 1
        self.batched += len(elements)
        self.inner.emit_raw(batch.topic, encode(elements), False, elements[-1]["seq"])

    def flush(self) -> None:
        for prefix, batch in list(self._pending.items()):
            self._send(prefix, batch)

    def close(self, *args: Any, **kwargs: Any) -> None:
        self.flush()
        self.inner.close(*args, **kwargs)

    # The run drives the MQTT sink through these (simulator/run.py).
    @property
    def waker(self) -> Any:
        return self.inner.waker

    @waker.setter
    def waker(self, fn: Any) -> None:
        self.inner.waker = fn

    @property
    def count(self) -> int:
        return self.inner.count

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
