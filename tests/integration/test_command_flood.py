"""A flood of commands on the cmd topic, through a real broker, into the simulator's MQTT
sink: the command inbox holds at most its limit, every command beyond it is counted as
dropped, the log says so a bounded number of times, and the inbox takes commands again once
the simulation thread has drained it."""

from __future__ import annotations

import logging
import time

from shopfloor.commands import cmd_topic, command_filters
from shopfloor.mqtt_url import parse_broker_url
from simulator.commands import CommandInbox
from simulator.mqtt_sink import MqttSink
from tests.support import Subscriber, running_broker, wait_for

SENT = 3000
LIMIT = 50


def test_a_command_flood_is_bounded_counted_and_logged_a_bounded_number_of_times(caplog):
    inbox = CommandInbox(limit=LIMIT)
    caplog.set_level(logging.WARNING, logger="shopfloor.sim.cmd")
    topic = cmd_topic("acme", "hcm")
    with running_broker() as broker:
        sink = MqttSink(
            parse_broker_url(broker.url),
            "flood-sim",
            command_topics=command_filters("acme", "hcm"),
            on_command=lambda t, raw: inbox.put((t, raw)),
            outbox=0,
        )
        pub = Subscriber(broker.port, "nothing/#")
        try:
            # Subscribed once a probe command arrives (the sink subscribes on connect). At
            # most one probe per 0.5 s, so fewer than LIMIT in all: probes held up in a loaded
            # machine's queues and delivered in a burst once the subscription is in can never
            # fill the inbox and be counted (and logged) as drops before the flood.
            probed: list[float] = []

            def probe_arrived() -> bool:
                if not probed or time.monotonic() - probed[-1] >= 0.5:
                    probed.append(time.monotonic())
                    pub.client.publish(topic, b"{}", qos=1)
                return inbox.qsize() > 0

            wait_for(probe_arrived, 20, "the sink subscribed")
            assert len(probed) < LIMIT
            # Probes still in flight come before a last marker (one connection keeps order):
            # once it is in, the inbox is emptied and holds nothing but the flood.
            pub.client.publish(topic, b'"marker"', qos=1)
            got: list[bytes] = []

            def marker_in() -> bool:
                while not inbox.empty():
                    got.append(inbox.get_nowait()[1])
                return b'"marker"' in got

            wait_for(marker_in, 20, "the marker")
            assert inbox.dropped == 0
            for i in range(SENT):
                pub.client.publish(
                    topic, b'{"action": "set_speed", "speed": 2, "id": "%d"}' % i, qos=1
                )
            wait_for(lambda: inbox.qsize() + inbox.dropped >= SENT, 60, "every command arrived")
            assert inbox.qsize() == LIMIT
            assert inbox.dropped == SENT - LIMIT
            # The commands kept are the first ones, in order.
            first = inbox.get_nowait()
            assert first == (topic, b'{"action": "set_speed", "speed": 2, "id": "0"}')
            while not inbox.empty():
                inbox.get_nowait()
            assert inbox.put((topic, b"{}"))
        finally:
            pub.close()
            sink.close(stall_s=2)
    drops = [r for r in caplog.records if "command inbox full" in r.getMessage()]
    # The 1st, 10th, 100th and 1000th drop of 2,950: four lines, the last naming the count.
    assert [r.getMessage().split("(")[-1] for r in drops] == [
        "1 dropped so far)",
        "10 dropped so far)",
        "100 dropped so far)",
        "1000 dropped so far)",
    ]
