"""Collector throughput against a bare paho subscriber, and its memory through a store outage.

    python bench/bench_collector.py [--runs 3] [--outage-s 300]

Throughput: the broker is preloaded with the same seeded messages (config/plant.yaml, 24 h)
for an offline persistent session; then the subscriber connects and drains it. The bare
subscriber only counts (auto-ack); the collector validates, deduplicates, writes SQLite and
acknowledges after each commit. Runs are interleaved; the ratio is the median of per-run ratios.

Memory: `shopfloor collect` as a process, 2,000 msg/s published at QoS 1, the SQLite file
locked by another writer for --outage-s seconds; peak RSS (VmHWM) of the collector, and
whether every message was stored once the lock is gone.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_mqtt import seeded_messages  # noqa: E402
from collector.metrics import Metrics  # noqa: E402
from collector.service import Collector  # noqa: E402
from shopfloor.broker import Broker, free_port  # noqa: E402
from shopfloor.mqtt_url import parse_broker_url  # noqa: E402
from shopfloor.store.sqlite import SqliteStore  # noqa: E402

TOPIC = "shopfloor/v1/+/+/+/+/+/+"


def preload(port: int, client_id: str, messages: list[tuple[str, bytes, bool]]) -> None:
    """Create the offline session, then publish everything into its queue."""
    sub = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    sub.connect("127.0.0.1", port)
    sub.subscribe(TOPIC, qos=1)
    sub.loop(1.0)
    sub.disconnect()
    pub = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{client_id}-pub", protocol=mqtt.MQTTv311
    )
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for start in range(0, len(messages), 10_000):  # paho holds at most 65,535 QoS 1 ids
        infos = [pub.publish(t, d, 1, False) for t, d, _ in messages[start : start + 10_000]]
        for info in infos:
            info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()


def bare(port: int, n: int, client_id: str) -> float:
    done = threading.Event()
    count = 0

    def on_message(c, u, m):
        nonlocal count
        count += 1
        if count >= n:
            done.set()

    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    c.on_message = on_message
    t0 = time.perf_counter()
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(600)
    wall = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return wall


def collector(port: int, n: int, client_id: str, db: Path) -> float:
    metrics = Metrics()
    col = Collector(
        parse_broker_url(f"mqtt://127.0.0.1:{port}"),
        SqliteStore(db),
        client_id=client_id,
        metrics=metrics,
    )
    t0 = time.perf_counter()
    col.start()
    while metrics.value("shopfloor_collector_stored_total") < n:
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    col.stop()
    return wall


def throughput(runs: int) -> None:
    messages = seeded_messages(86400)
    n = len(messages)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        with Broker(port, kind="mosquitto"):
            for i in range(runs):
                preload(port, f"bare-{i}", messages)
                b = n / bare(port, n, f"bare-{i}")
                preload(port, f"col-{i}", messages)
                c = n / collector(port, n, f"col-{i}", Path(tmp) / f"c{i}.db")
                rows.append((c, b))
    print(
        f"{n:,} messages (config/plant.yaml, 24 h) from a local Mosquitto, QoS 1, median of {runs}:"
    )
    print(
        f"  collector into SQLite {statistics.median(r[0] for r in rows):,.0f} msg/s; bare subscriber "
        f"{statistics.median(r[1] for r in rows):,.0f} msg/s; ratio {statistics.median(r[0] / r[1] for r in rows):.2f} (target >= 0.5)"
    )


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def outage(seconds: float, rate: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        db = Path(tmp) / "s.db"
        with Broker(port, kind="mosquitto"):
            proc = subprocess.Popen(
                [sys.executable, "-m", "shopfloor.cli.main", "collect", "--broker", f"mqtt://127.0.0.1:{port}",
                 "--store", f"sqlite:///{db}", "--metrics-port", "0", "--client-id", "outage"],
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            while not db.exists():
                time.sleep(0.1)
            time.sleep(1.0)
            lock = sqlite3.connect(db, timeout=30)
            lock.execute("BEGIN EXCLUSIVE")
            pub = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id="outage-pub", protocol=mqtt.MQTTv311
            )
            pub.max_inflight_messages_set(100)
            pub.connect("127.0.0.1", port)
            pub.loop_start()
            t0 = time.monotonic()
            sent = 0
            peak = 0
            now = int(time.time() * 1000)
            while time.monotonic() - t0 < seconds:
                target = int((time.monotonic() - t0) * rate)
                while sent < target:
                    # 50 machines, each with its own consecutive seq, as a plant sends them.
                    seq = sent // 50 + 1
                    sent += 1
                    payload = {
                        "ts": now + sent,
                        "seq": seq,
                        "power_kw": 3.5,
                        "spindle_temp_c": 40.0,
                    }
                    pub.publish(
                        f"shopfloor/v1/acme/hcm/a/l1/m{sent % 50}/telemetry", json.dumps(payload), 1
                    )
                peak = max(peak, vm_hwm_kb(proc.pid))
                time.sleep(0.01)
            lock.rollback()
            lock.close()
            deadline = time.monotonic() + 600
            stored = 0
            while time.monotonic() < deadline:
                con = sqlite3.connect(db, timeout=30)
                stored = con.execute("SELECT count(*) FROM samples").fetchone()[0]
                con.close()
                if stored >= sent:
                    break
                peak = max(peak, vm_hwm_kb(proc.pid))
                time.sleep(0.5)
            peak = max(peak, vm_hwm_kb(proc.pid))
            proc.terminate()
            proc.wait(30)
            pub.loop_stop()
    print(
        f"store outage of {seconds:g} s at {rate} msg/s ({sent:,} messages): collector peak RSS {peak / 1024:.0f} MiB; stored afterwards {stored:,} of {sent:,}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--outage-s", type=float, default=300)
    args = ap.parse_args()
    throughput(args.runs)
    outage(args.outage_s)


if __name__ == "__main__":
    main()
