"""Publishing speed of `shopfloor sim --fast --broker` against a bare paho-mqtt loop.

    python bench/bench_mqtt.py [--runs 3] [--messages 150000]

Both publish the same payloads (a seeded run of config/plant.yaml) to the same local Mosquitto,
in the same invocation, and count a message as done when paho reports it published (PUBACK
at QoS 1, written to the socket at QoS 0). The bare loop is the simplest correct publisher:
publish everything, check each return code, wait for the last acknowledgement.

Then the real-time capacity: the plant scaled to N stations with 1 s samples at --speed 1,
publishing to Mosquitto at QoS 1; CPU time of the process per wall second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shopfloor.broker import Broker, free_port  # noqa: E402
from shopfloor.config import load_config, parse_config  # noqa: E402
from shopfloor.mqtt_url import parse_broker_url  # noqa: E402
from simulator.mqtt_sink import MqttSink  # noqa: E402
from simulator.run import run  # noqa: E402
from simulator.sinks import ListSink  # noqa: E402

START_MS = 1_795_366_800_000


def seeded_messages(duration_s: float) -> list[tuple[str, bytes, bool]]:
    sink = ListSink()
    run(load_config(ROOT / "config" / "plant.yaml"), sink, START_MS, duration_s)
    return [(t, orjson.dumps(p), r) for t, p, r in sink.messages]


def bare_paho(port: int, messages: list[tuple[str, bytes, bool]], qos: int) -> float:
    done = threading.Event()
    acked = 0
    n = len(messages)

    def on_publish(client, userdata, mid, reason, props):
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-bare-{qos}", protocol=mqtt.MQTTv311
    )
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    for topic, data, retain in messages:
        while True:
            rc = c.publish(topic, data, qos, retain).rc
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            if rc != MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:  # 65,535 QoS 1 ids in use: wait for acks
                raise RuntimeError(f"publish failed: {rc}")
            time.sleep(0.001)
    done.wait(600)
    wall = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return wall


def bare_paho_own_loop(port: int, messages: list[tuple[str, bytes, bool]], qos: int) -> float:
    """The same bare loop without paho's network thread: this thread writes each publish
    itself and reads acknowledgements every 64 messages (what `sim --fast` does)."""
    import select

    acked = 0

    def on_publish(client, userdata, mid, reason, props):
        nonlocal acked
        acked += 1

    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-bare-own-{qos}", protocol=mqtt.MQTTv311
    )
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)

    def service(timeout: float) -> None:
        sock = c.socket()
        if sock is None:
            return
        r, w, _ = select.select([sock], [sock] if c.want_write() else [], [], timeout)
        if r:
            c.loop_read()
        if w or c.want_write():
            c.loop_write()
        c.loop_misc()

    while not c.is_connected():
        service(0.1)
    t0 = time.perf_counter()
    for i, (topic, data, retain) in enumerate(messages):
        if i % 64 == 0:
            service(0.0)
        while True:
            rc = c.publish(topic, data, qos, retain).rc
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            if rc != MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                raise RuntimeError(f"publish failed: {rc}")
            service(0.001)
    while acked < len(messages):
        service(0.05)
    wall = time.perf_counter() - t0
    c.disconnect()
    service(0.0)
    return wall


def sim_publish(port: int, duration_s: float, qos: int, window: int = 1000) -> tuple[float, int]:
    cfg = load_config(ROOT / "config" / "plant.yaml")
    sink = MqttSink(
        parse_broker_url(f"mqtt://127.0.0.1:{port}"),
        f"bench-sim-{qos}",
        qos=qos,
        block_when_full=True,
        window=window,
        own_loop=True,  # as `shopfloor sim --fast` does
    )
    for _ in range(30):  # connected, like the bare loop before its clock starts
        sink.service(0.01)
    t0 = time.perf_counter()
    run(cfg, sink, START_MS, duration_s)  # closes the sink: waits for the last acknowledgement
    return time.perf_counter() - t0, sink.published


def scaled_plant(stations: int) -> object:
    import yaml

    data = yaml.safe_load((ROOT / "config" / "large.yaml").read_text())
    lines = data["lines"]
    out = []
    i = 0
    while sum(len(x["stations"]) for x in out) < stations:
        src = lines[i % len(lines)]
        k = i // len(lines)
        out.append(
            {
                **src,
                "id": f"{src['id']}-{k}",
                "stations": [{**s, "id": f"{s['id']}-{k}"} for s in src["stations"]],
            }
        )
        i += 1
    data["lines"] = out
    data["telemetry"] = {"sample_interval_s": 1, "energy_interval_s": 60}
    data.pop("shifts")  # all machines working: the busiest case
    return parse_config(data)


def realtime_cpu(
    port: int, stations: int, wall_s: float = 15.0, warmup_s: float = 5.0
) -> tuple[float, float, int]:
    """Steady-state CPU share of one core between sim seconds warmup_s and wall_s, how far
    the simulation lags the wall clock at the end, and the publish backlog then."""
    from simulator.paced_env import PacedEnvironment
    from simulator.plant import Plant

    cfg = scaled_plant(stations)
    sink = MqttSink(
        parse_broker_url(f"mqtt://127.0.0.1:{port}"),
        f"bench-rt-{stations}",
        qos=1,
        block_when_full=False,
    )
    env = PacedEnvironment(1.0)
    Plant(env, cfg, sink, int(time.time() * 1000))
    env.on_idle = sink.pump
    sink.waker = env.wake.set
    marks: list[tuple[float, float]] = []

    def probe():
        yield env.timeout(warmup_s)
        marks.append((time.process_time(), time.perf_counter()))
        yield env.timeout(wall_s - warmup_s)
        marks.append((time.process_time(), time.perf_counter()))
        yield env.timeout(0.5)  # half-way between two sampling ticks
        marks.append((env.wall_now_sim() - env.now, sink.stats()["queued"]))

    env.process(probe())
    env.set_speed(1.0)
    env.run(until=wall_s + 0.6)
    sink.close()
    (c0, t0), (c1, t1), (lag, backlog) = marks
    return (c1 - c0) / (t1 - t0), lag, backlog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration-s", type=float, default=86400 * 1.0)
    ap.add_argument("--stations", default="225,900,1800")
    args = ap.parse_args()
    port = free_port()
    with Broker(port, kind="mosquitto"):
        messages = seeded_messages(args.duration_s)
        print(
            f"{len(messages):,} messages of config/plant.yaml ({args.duration_s / 3600:g} h), local Mosquitto, median of {args.runs}:"
        )
        for qos in (0, 1) if args.runs > 0 else ():
            # Interleaved, so load from elsewhere on a shared machine hits both alike.
            rows = []
            for _ in range(args.runs):
                bare = len(messages) / bare_paho(port, messages, qos)
                own = len(messages) / bare_paho_own_loop(port, messages, qos)
                wall, n = sim_publish(port, args.duration_s, qos)
                rows.append((n / wall, bare, own))
            s = statistics.median(r[0] for r in rows)
            b = statistics.median(r[1] for r in rows)
            o = statistics.median(r[2] for r in rows)
            ratio = statistics.median(r[0] / r[1] for r in rows)
            ratio_own = statistics.median(r[0] / r[2] for r in rows)
            print(
                f"  QoS {qos}: sim --fast {s:,.0f} msg/s; bare paho (loop_start) {b:,.0f} msg/s, "
                f"ratio {ratio:.2f} (target >= 0.7); bare paho driving its own socket {o:,.0f} msg/s, "
                f"ratio {ratio_own:.2f}"
            )
        for n in [int(x) for x in args.stations.split(",")]:
            cpu, lag, backlog = realtime_cpu(port, n)
            print(
                f"  --speed 1, 1 s samples, {n} stations: {cpu * 100:.0f}% of one core; lag {lag:.2f} s, backlog {backlog}"
            )


if __name__ == "__main__":
    main()
