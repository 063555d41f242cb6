"""A flood of NCMD Rebirths at a live `shopfloor sim --encoding sparkplug`, through a real
broker: the node's births go out again at most once a second (each Rebirth published every
DBIRTH of the node once per message, and the requests queued without bound), and the
simulator goes on answering commands."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pysparkplug as psp

from shopfloor.commands import cmd_topic, reply_topic
from shopfloor.config.load import load_config
from tests.sparkplug.test_publish import RawSubscriber
from tests.support import PLANT, Subscriber, cli, running_broker, wait_for

FLOOD = 500


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
        sub = RawSubscriber(broker.port)
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
            t0 = time.monotonic()
            for _ in range(FLOOD):
                sub.client.publish(f"spBv1.0/{group}/NCMD/{node}", rebirth, qos=1)
            # A command after the flood, on the same connection: once its reply is back, the
            # simulator has received every NCMD before it.
            sub.client.publish(plant_cmd, json.dumps({"action": "set_speed", "speed": 60,
                                                      "id": "marker"}), qos=1)  # fmt: skip
            wait_for(
                lambda: any(p.get("id") == "marker" for _, p, _ in replies.snapshot()),
                60,
                "the marker's reply",
            )
            elapsed = time.monotonic() - t0
            assert sim.poll() is None
            # The first NBIRTH, then at most one a second (and one at each end of the span).
            assert 2 <= births() <= 1 + elapsed / 1.0 + 2, (births(), elapsed)
        finally:
            sim.send_signal(signal.SIGINT)
            _, err = sim.communicate(timeout=60)
            sub.close()
            replies.close()
    assert "Traceback" not in err
    ignored = [line for line in err.splitlines() if "NCMD Rebirth" in line and "ignored" in line]
    assert 1 <= len(ignored) <= 4, ignored  # the 1st, 10th, 100th... of at most 499
