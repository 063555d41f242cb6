"""The dashboard's side of the command contract (shopfloor.commands): publish a command to
the simulator, await its reply.

One paho connection for the app's lifetime (started by create_app when --broker is given).
Replies arrive on `<cmd topic>/reply`; the newest ones are kept for the simulation page.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from shopfloor.commands import cmd_topic, reply_filters, reply_topic
from shopfloor.contract import plant_prefix
from shopfloor.mqtt_url import BrokerUrl, make_client

log = logging.getLogger("shopfloor.dash.cmd")
UNLISTED_KEEP = 1000


@dataclass
class Reply:
    topic: str
    payload: dict[str, Any]
    n: int = 0  # arrival order (see CommandClient.cleared)


class CommandClient:
    def __init__(self, url: BrokerUrl, enterprise: str, site: str, keep: int = 50):
        self.url = url
        self.enterprise = enterprise
        self.site = site
        self.prefix = plant_prefix(enterprise, site)
        self.replies: deque[Reply] = deque(maxlen=keep)
        # Topics whose retained message was deleted (an empty payload: a simulator that
        # stopped withdraws its speed), with the arrival number of that deletion: replies
        # that arrived before it say nothing of a run now.
        self.cleared: dict[str, int] = {}
        self._arrived = 0
        self._waiting: dict[str, tuple[threading.Event, list[Reply]]] = {}
        # Ids of requests whose replies stay out of `replies` (the newest UNLISTED_KEEP).
        self._unlisted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.client = make_client(url, f"shopfloor-dash-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(url.host, url.port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused the dashboard: %s", self.url, reason)
            return
        client.subscribe([(f, 1) for f in reply_filters(self.enterprise, self.site)])
        self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._arrived += 1
            n = self._arrived
            if not msg.payload:
                self.cleared[msg.topic] = n
                return
        try:
            payload = orjson.loads(msg.payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict):
            return
        reply = Reply(msg.topic, payload, n)
        with self._lock:
            cmd_id = str(payload.get("id"))
            # A truth reply (the Truth page's report, every machine's figures) is the page's
            # answer, not an event for the Simulation page's list of replies; nor is the
            # answer to any request sent unlisted (a refused truth carries no action, so
            # only its id tells it apart). An id stays known a while: a late answer too.
            if payload.get("action") != "truth" and cmd_id not in self._unlisted:
                self.replies.appendleft(reply)
            waiting = self._waiting.get(cmd_id)
        if waiting is not None:
            waiting[1].append(reply)
            waiting[0].set()

    def speed(self) -> float | None:
        """The simulator's speed in use: the newest set_speed reply on the plant's reply topic
        (each change is announced there, retained), None when none was heard since the
        simulator withdrew its announcement (it stopped: an empty retained message)."""
        topic = reply_topic(self.topic(None))
        with self._lock:
            cleared = self.cleared.get(topic, 0)
            replies = list(self.replies)
        for r in replies:  # newest first
            if r.n < cleared:
                return None
            result = r.payload.get("result")
            if r.topic == topic and r.payload.get("action") == "set_speed":
                speed = result.get("speed") if isinstance(result, dict) else None
                if isinstance(speed, int | float) and speed > 0:
                    return float(speed)
        return None

    def topic(self, machine_path: str | None) -> str:
        """The plant's cmd topic, or a machine's (machine_path: area/line/machine)."""
        return cmd_topic(self.enterprise, self.site, machine_path)

    def send(
        self, topic: str, command: dict[str, Any], timeout_s: float = 3.0, listed: bool = True
    ) -> Reply | None:
        """Publish and wait for the reply; None when none came (simulator not running).
        listed=False: its reply stays out of `replies` (the Simulation page's list)."""
        return self.send_many(topic, [command], timeout_s, listed)[0]

    def send_many(
        self, topic: str, commands: list[dict[str, Any]], timeout_s: float = 3.0,
        listed: bool = True,
    ) -> list[Reply | None]:  # fmt: skip
        """Publish them all at once, then await every reply (one wait, not one per command):
        the replies in the commands' order, None where none came within timeout_s."""
        ids = [uuid.uuid4().hex[:12] for _ in commands]
        boxes: list[tuple[threading.Event, list[Reply]]] = [(threading.Event(), []) for _ in ids]
        with self._lock:
            for cmd_id, box in zip(ids, boxes, strict=True):
                self._waiting[cmd_id] = box
                if not listed:
                    self._unlisted[cmd_id] = None
            while len(self._unlisted) > UNLISTED_KEEP:
                self._unlisted.popitem(last=False)
        deadline = time.monotonic() + timeout_s
        try:
            if not self.connected.wait(timeout_s):
                return [None for _ in ids]
            for cmd_id, command in zip(ids, commands, strict=True):
                self.client.publish(topic, orjson.dumps({**command, "id": cmd_id}), qos=1)
            for done, _ in boxes:
                done.wait(max(0.0, deadline - time.monotonic()))
            return [box[0] if box else None for _, box in boxes]
        finally:
            with self._lock:
                for cmd_id in ids:
                    self._waiting.pop(cmd_id, None)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
