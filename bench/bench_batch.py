"""Issue 15, live MQTT throughput: `shopfloor collect` processes draining a local Mosquitto,
with single messages against the batch form (`sim --batch-ms`, shopfloor/batch.py), and with
one collector against two in one shared-subscription group.

    python bench/bench_batch.py [--runs 3] [--hours 12] [--batch-ms 60000]

The messages are config/plant.yaml's seeded run (the same for every case); the batched form
is the same messages through simulator/batching.py. For each case the collector processes
subscribe once (a persistent session), stop, the broker is preloaded with every message for
their offline sessions, and they start again: the clock runs from the moment every member is
subscribed until every message is received and every record stored. Stored messages/s and
records/s (a batch element is one record, as a single message is); medians of interleaved runs.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_mqtt import seeded_messages  # noqa: E402
from shopfloor.broker import Broker, free_port  # noqa: E402
from simulator.batching import BatchingSink  # noqa: E402

CLI = [sys.executable, "-m", "shopfloor.cli.main"]


class _Collect:
    """Stands in for the MQTT sink behind BatchingSink: keeps what it would publish."""

    def __init__(self) -> None:
        self.out: list[tuple[str, bytes]] = []

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        import orjson

        self.out.append((topic, orjson.dumps(payload)))

    def emit_raw(self, topic: str, data: bytes, retain: bool, seq: int | None = None) -> None:
        self.out.append((topic, data))

    def close(self) -> None:
        pass


def batched(messages: list[tuple[str, bytes, bool]], batch_ms: int) -> list[tuple[str, bytes]]:
    import orjson

    inner = _Collect()
    sink = BatchingSink(inner, batch_ms)
    for t, d, r in messages:
        if r:  # retained states and births go out as they are (the broker keeps them)
            sink.flush()
            inner.out.append((t, d))
            continue
        sink.emit(t, orjson.loads(d), r)
    sink.flush()
    return inner.out


def _metrics(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for name in ("received_total", "stored_total", "buffered", "waiting", "subscribed"):
        m = re.search(rf"^shopfloor_collector_{name} ([0-9.e+]+)$", text, re.M)
        if m:
            out[name] = float(m.group(1))
    return out


def _start(broker: Broker, db: Path, client_id: str, group: str | None) -> tuple[Any, int]:
    port = free_port()
    cmd = [*CLI, "collect", "--broker", broker.url, "--store", f"sqlite:///{db}"]
    cmd += ["--client-id", client_id, "--metrics-port", str(port)]
    if group:
        cmd += ["--shared-group", group]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    while _metrics(port).get("subscribed") != 1:
        time.sleep(0.05)
    return proc, port


def case(
    broker: Broker, tmp: Path, tag: str, msgs: list[tuple[str, bytes]], members: int
) -> tuple[float, float]:
    group = f"g{tag}" if members > 1 else None
    ids = [f"bench-{tag}-{i}" for i in range(members)]
    dbs = [tmp / f"{tag}-{i}.db" for i in range(members)]
    procs = [_start(broker, db, cid, group) for db, cid in zip(dbs, ids, strict=True)]
    for p, _ in procs:  # the sessions stay on the broker
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{tag}-pub")
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    for start in range(0, len(msgs), 10_000):
        infos = [pub.publish(t, d, 1, False) for t, d in msgs[start : start + 10_000]]
        for info in infos:
            info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()
    procs = [_start(broker, db, cid, group) for db, cid in zip(dbs, ids, strict=True)]
    t0 = time.perf_counter()
    n = len(msgs)
    while True:
        ms = [_metrics(port) for _, port in procs]
        if sum(m.get("received_total", 0) for m in ms) >= n and all(
            m.get("buffered", 1) == 0 and m.get("waiting", 1) == 0 for m in ms
        ):
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    records = sum(m["stored_total"] for m in ms)
    for p, _ in procs:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    return n / wall, records / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--batch-ms", type=int, default=60000)
    args = ap.parse_args()
    seeded = seeded_messages(args.hours * 3600)
    single = [(t, d) for t, d, _ in seeded]
    batch = batched(seeded, args.batch_ms)
    cases = {
        "single, 1 collector": (single, 1),
        f"--batch-ms {args.batch_ms}, 1 collector": (batch, 1),
        "single, 2 collectors (shared)": (single, 2),
        f"--batch-ms {args.batch_ms}, 2 collectors (shared)": (batch, 2),
    }
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    with tempfile.TemporaryDirectory() as tmp, Broker(free_port(), kind="mosquitto") as broker:
        for run in range(args.runs):
            for i, (name, (msgs, members)) in enumerate(cases.items()):
                got[name].append(case(broker, Path(tmp), f"{run}-{i}", msgs, members))
    print(
        f"config/plant.yaml {args.hours:g} h: {len(single):,} single messages, {len(batch):,} "
        f"with --batch-ms {args.batch_ms}; local Mosquitto, QoS 1, SQLite, median of {args.runs}"
    )
    base = statistics.median(r[1] for r in got["single, 1 collector"])
    for name, rows in got.items():
        msg_s = statistics.median(r[0] for r in rows)
        rec_s = statistics.median(r[1] for r in rows)
        print(f"  {name:40s} {msg_s:9,.0f} msg/s {rec_s:9,.0f} records/s  x{rec_s / base:.2f}")


if __name__ == "__main__":
    main()
