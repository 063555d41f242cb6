"""Latency of a command: a breakdown published on a machine's cmd topic until its `down` state
arrives from a live simulator (`sim --speed 1`), against the broker's own round trip.

    python bench/bench_command.py [--runs 3]

Each run starts a local broker and a live simulator of config/plant.yaml on a clock pinned
inside Monday's shift A (SHOPFLOOR_NOW: at night the plant is off and a breakdown waits for the
shift), then breaks each running machine once, in turn, measuring publish -> state message at a
subscriber. The baseline, in the same run: a message published to a topic the same subscriber
takes, publish -> arrival. Reports the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shopfloor import clock  # noqa: E402
from shopfloor.broker import Broker, free_port  # noqa: E402
from shopfloor.config import load_config  # noqa: E402
from shopfloor.contract import machine_prefix  # noqa: E402

PLANT = ROOT / "config" / "plant.yaml"
MONDAY_1100 = "2026-11-23T11:00:00+07:00"


class Watcher:
    def __init__(self, port: int):
        self.events: dict[str, float] = {}
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-cmd-{port}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("shopfloor/v1/#", 1), ("bench/echo", 1)])
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        now = time.perf_counter()
        try:
            p = json.loads(msg.payload)
        except ValueError:
            return
        key = None
        if msg.topic == "bench/echo":
            key = f"echo:{p['n']}"
        elif msg.topic.endswith("/state") and p.get("reason", "").startswith("bench_"):
            key = p["reason"]
        elif msg.topic.endswith("/cmd/reply"):
            key = f"reply:{p.get('id')}"
        if key is not None:
            with self.cond:
                self.events.setdefault(key, now)
                self.cond.notify_all()

    def wait(self, key: str, timeout_s: float = 10.0) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: key in self.events, timeout_s)
            return self.events.get(key)

    def send(self, topic: str, payload: dict) -> float:
        t0 = time.perf_counter()
        self.client.publish(topic, json.dumps(payload), qos=1)
        return t0


def one_run(run_no: int) -> tuple[float, float]:
    cfg = load_config(PLANT)
    port = free_port()
    broker = Broker(port).start()
    env = {**os.environ, clock.ENV: clock.ticking_from(clock.parse(MONDAY_1100).at_s)}
    sim = subprocess.Popen(
        [sys.executable, "-m", "shopfloor.cli.main", "sim", "--config", str(PLANT),
         "--speed", "1", "--broker", broker.url],
        stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    w = Watcher(port)
    try:
        plant_cmd = f"shopfloor/v1/{cfg.plant.enterprise}/{cfg.plant.site}/cmd"
        for n in range(200):  # the simulator's command subscriptions are in place
            w.send(plant_cmd, {"id": f"ping-{n}", "action": "set_speed", "speed": 1})
            if w.wait(f"reply:ping-{n}", 0.5) is not None:
                break
        cmd_s, echo_s = [], []
        for i, (line, st) in enumerate(cfg.stations()):
            if st.connectivity == "legacy":
                continue
            prefix = machine_prefix(cfg.plant.enterprise, cfg.plant.site, line.area, line.id, st.id)
            reason = f"bench_{run_no}_{i}"
            t0 = w.send(
                f"{prefix}/cmd", {"action": "breakdown", "reason": reason, "repair_min": 60}
            )
            t1 = w.wait(reason)
            if t1 is not None:
                cmd_s.append(t1 - t0)
            e0 = w.send("bench/echo", {"n": f"{run_no}-{i}"})
            e1 = w.wait(f"echo:{run_no}-{i}")
            if e1 is not None:
                echo_s.append(e1 - e0)
        return statistics.median(cmd_s), statistics.median(echo_s)
    finally:
        w.client.loop_stop()
        sim.terminate()
        sim.wait(20)
        broker.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    cmds, echos = [], []
    for r in range(args.runs):
        c, e = one_run(r)
        cmds.append(c)
        echos.append(e)
        print(
            f"run {r + 1}: breakdown -> down state {c * 1000:.1f} ms; broker round trip {e * 1000:.1f} ms"
        )
    c, e = statistics.median(cmds), statistics.median(echos)
    print(
        f"median of {args.runs}: command {c * 1000:.1f} ms, broker {e * 1000:.1f} ms, ratio {c / e:.1f}x"
    )


if __name__ == "__main__":
    main()
