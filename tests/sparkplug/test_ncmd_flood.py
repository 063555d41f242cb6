"""A flood of NCMD Rebirths at a live `shopfloor sim --encoding sparkplug`, through a real
broker: the node's births go out again at most once a second (each Rebirth published every
DBIRTH of the node once per message, and the requests queued without bound), and the
simulator goes on answering commands."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import pysparkplug as psp

from shopfloor.commands import cmd_topic, reply_topic
from shopfloor.config.load import load_config
from tests.sparkplug.test_publish import RawSubscriber
from tests.support import PLANT, Subscriber, cli, running_broker, wait_for

FLOOD = 500
# How far the broker's deliveries of two messages to two clients may drift apart: requests
# reach the simulator and this test's subscriber at not quite the same instants.
JITTER_S = 1.0


class TimedSubscriber(RawSubscriber):
    """RawSubscriber that also notes when each message arrived (time.monotonic())."""

    def __init__(self, port: int) -> None:
        self.arrived: list[tuple[str, float]] = []
        super().__init__(port)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.arrived.append((msg.topic, time.monotonic()))
        super()._on_message(client, userdata, msg)

    def times(self, topic: str) -> list[float]:
        with self.lock:
            return [at for t, at in self.arrived if t == topic]


def test_an_ncmd_rebirth_flood_rebirths_a_node_at_most_once_a_second():
    cfg = load_config(PLANT)
    group = f"{cfg.plant.enterprise}:{cfg.plant.site}"
    line = cfg.lines[0]
    node = f"{line.area}:{line.id}"
    nbirth = f"spBv1.0/{group}/NBIRTH/{node}"
    plant_cmd = cmd_topic(cfg.plant.enterprise, cfg.plant.site)
    rebirth = psp.NCmd(
        timestamp=0,
        metrics=(psp.Metric(timestamp=0, name="Node Control/Rebirth",
                            datatype=psp.DataType.BOOLEAN, value=True),),
    ).encode(include_dtypes=True)  # fmt: skip
    with running_broker("mosquitto") as broker:
        sub = TimedSubscriber(broker.port)  # spBv1.0/#: the NCMDs too, as the broker sends them
        replies = Subscriber(broker.port, reply_topic(plant_cmd))
        sim = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url,
                "--encoding", "sparkplug"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:

            def births() -> int:
                return sum(t == nbirth for t, _ in sub.snapshot())

            wait_for(lambda: births() == 1, 30, "the first NBIRTH")
            # Commands answered: the simulator's command topics are subscribed.
            wait_for(
                lambda: (
                    replies.publish(plant_cmd, {"action": "set_speed", "speed": 60, "id": "up"})
                    or any(p.get("id") == "up" for _, p, _ in replies.snapshot())
                ),
                30,
                "a reply",
            )
            ncmd = f"spBv1.0/{group}/NCMD/{node}"
            for _ in range(FLOOD):
                sub.client.publish(ncmd, rebirth, qos=1)
            # A command after the flood, on the same connection: once its reply is back, the
            # simulator has received every NCMD before it.
            sub.client.publish(plant_cmd, json.dumps({"action": "set_speed", "speed": 60,
                                                      "id": "marker"}), qos=1)  # fmt: skip
            wait_for(
                lambda: any(p.get("id") == "marker" for _, p, _ in replies.snapshot()),
                60,
                "the marker's reply",
            )
            wait_for(lambda: len(sub.times(ncmd)) == FLOOD, 30, "every NCMD back from the broker")
            assert sim.poll() is None
            # Against the span over which the requests arrived (from the broker's deliveries,
            # not from how long this test took to send them, which load stretches): at most one
            # rebirth a second of it, one at its start, and a jitter's worth at each end. At
            # least one rebirth answers. Without the limit: a rebirth per request, or per batch.
            asked = sub.times(ncmd)
            span = asked[-1] - asked[0]
            reborn = births() - 1
            assert 1 <= reborn <= 1 + (span + 2 * JITTER_S) / 1.0, (reborn, span)
            # And each answer came while requests came, not before the first.
            assert all(at >= asked[0] - JITTER_S for at in sub.times(nbirth)[1:])
        finally:
            sim.send_signal(signal.SIGINT)
            _, err = sim.communicate(timeout=60)
            sub.close()
            replies.close()
    assert "Traceback" not in err
    ignored = [line for line in err.splitlines() if "NCMD Rebirth" in line and "ignored" in line]
    assert 1 <= len(ignored) <= 4, ignored  # the 1st, 10th, 100th... of at most 499
