"""simulator/batching.py on the golden plant's stream: what it publishes, batches unpacked, is
the stream itself, each machine's seqs still rising, each batch within its window."""

from __future__ import annotations

from typing import Any

import orjson

from shopfloor.config import load_config
from simulator.batching import BatchingSink
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import GOLDEN

START_MS = 1_795_366_800_000


class _Published:
    def __init__(self) -> None:
        self.out: list[tuple[str, Any, bool, int | None]] = []

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.out.append((topic, payload, retain, payload.get("seq")))

    def emit_raw(self, topic: str, data: bytes, retain: bool, seq: int | None = None) -> None:
        self.out.append((topic, orjson.loads(data), retain, seq))

    def close(self) -> None:
        pass


def test_batches_unpacked_are_the_stream_in_order():
    cfg = load_config(GOLDEN)
    plain = ListSink()
    run(cfg, plain, START_MS, 4 * 3600)
    inner = _Published()
    window_ms = 600_000  # the golden plant samples every 120 s, reads meters every 600 s
    sink = BatchingSink(inner, window_ms)
    run(cfg, sink, START_MS, 4 * 3600)
    unpacked: list[tuple[str, dict, bool]] = []
    batches = 0
    for topic, payload, retain, seq in inner.out:
        if "batch" in payload:
            batches += 1
            elements = payload["batch"]
            assert payload["v"] == 2 and len(elements) >= 2
            assert topic.rsplit("/", 1)[1] in ("telemetry", "energy") and not retain
            assert seq == elements[-1]["seq"]  # the outbox keeps it under its last seq
            assert elements[-1]["ts"] - elements[0]["ts"] < window_ms
            unpacked += [(topic, e, retain) for e in elements]
        else:
            unpacked.append((topic, payload, retain))
    assert batches > 50
    assert len(inner.out) < len(plain.messages) * 0.5

    # Per machine, exactly the plain stream, in its order (so seqs keep rising).
    def per_machine(msgs: list[tuple[str, dict, bool]]) -> dict[str, list]:
        out: dict[str, list] = {}
        for topic, payload, retain in msgs:
            out.setdefault(topic.rsplit("/", 1)[0], []).append((topic, payload, retain))
        return out

    assert per_machine(unpacked) == per_machine(plain.messages)
    for msgs in per_machine(unpacked).values():
        seqs = [p["seq"] for _, p, _ in msgs if "seq" in p]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
