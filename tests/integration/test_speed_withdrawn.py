"""A stopped simulator's speed is not shown as the one in use (through a real Mosquitto).

A live run announces its speed retained on the plant's reply topic, so a client that
subscribes later (the dashboard's Simulation page) learns it. When the run ends, cleanly or
killed, the announcement must go with it: the simulator deletes it at a clean exit (an empty
retained message) and its connection's will deletes it when it dies, and the dashboard's
command client forgets the speed it had heard."""

from __future__ import annotations

import signal
import subprocess
import uuid

import pytest

from dashboard.commands import CommandClient
from shopfloor.broker import find_mosquitto
from shopfloor.commands import cmd_topic, reply_topic
from shopfloor.config import load_config
from shopfloor.mqtt_url import parse_broker_url
from tests.support import MONDAY_1100, PLANT, Subscriber, cli, pinned_env, running_broker, wait_for

pytestmark = pytest.mark.skipif(not find_mosquitto(), reason="needs mosquitto (apt)")

CFG = load_config(PLANT)
REPLY = reply_topic(cmd_topic(CFG.plant.enterprise, CFG.plant.site))


def retained_now(port: int) -> list:
    """What a client subscribing now is given as retained on the plant's reply topic: whatever
    arrives before its own probe, published after its subscription on the same connection (the
    broker keeps one topic's order)."""
    late = Subscriber(port, REPLY, client_id=f"late-{uuid.uuid4().hex[:8]}")
    probe = {"probe": uuid.uuid4().hex}
    try:
        late.publish(REPLY, probe)
        got = wait_for(
            lambda: (s := late.snapshot()) and any(p == probe for _, p, _ in s) and s,
            10,
            "the probe back",
        )
    finally:
        late.close()
    return [p for _, p, retained in got if retained]


def start_sim(broker) -> subprocess.Popen:
    return subprocess.Popen(
        cli("sim", "--config", str(PLANT), "--broker", broker.url, "--speed", "2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=pinned_env(MONDAY_1100),
    )  # fmt: skip


@pytest.mark.parametrize("stop", ["clean", "killed"])
def test_the_speed_announced_goes_when_the_simulator_stops(stop):
    with running_broker("mosquitto") as broker:
        dash = CommandClient(parse_broker_url(broker.url), CFG.plant.enterprise, CFG.plant.site)
        proc = start_sim(broker)
        try:
            wait_for(lambda: dash.speed() == 2.0, 60, "the dashboard hearing 2x")
            (announced,) = retained_now(broker.port)
            assert announced["action"] == "set_speed" and announced["result"]["speed"] == 2
            if stop == "clean":
                proc.send_signal(signal.SIGINT)
                assert proc.wait(30) == 0
            else:
                proc.kill()  # no goodbye: the broker's will for its connection
                proc.wait(30)
            # Before: the retained 2x stayed, and the page went on showing it.
            wait_for(lambda: dash.speed() is None, 30, "the dashboard forgetting 2x")
            assert retained_now(broker.port) == []
            # A new run announces again, and is heard (the old deletion does not hide it).
            proc = start_sim(broker)
            wait_for(lambda: dash.speed() == 2.0, 60, "the next run's 2x")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(30)
            dash.close()
