"""The dashboard's side of the command contract (shopfloor.commands): publish a command to
the simulator, await its reply.

One paho connection for the app's lifetime (started by create_app when --broker is given).
Replies arrive on `<cmd topic>/reply`; the newest ones are kept for the simulation page.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from shopfloor.commands import cmd_topic, reply_filters
from shopfloor.contract import plant_prefix
from shopfloor.mqtt_url import BrokerUrl, make_client

log = logging.getLogger("shopfloor.dash.cmd")


@dataclass
class Reply:
    topic: str
    payload: dict[str, Any]


class CommandClient:
    def __init__(self, url: BrokerUrl, enterprise: str, site: str, keep: int = 50):
        self.url = url
        self.enterprise = enterprise
        self.site = site
        self.prefix = plant_prefix(enterprise, site)
        self.replies: deque[Reply] = deque(maxlen=keep)
        self._waiting: dict[str, tuple[threading.Event, list[Reply]]] = {}
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
        try:
            payload = orjson.loads(msg.payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict):
            return
        reply = Reply(msg.topic, payload)
        with self._lock:
            # A truth reply (the Truth page's report, every machine's figures) is the page's
            # answer, not an event for the Simulation page's list of replies.
            if payload.get("action") != "truth":
                self.replies.appendleft(reply)
            waiting = self._waiting.get(str(payload.get("id")))
        if waiting is not None:
            waiting[1].append(reply)
            waiting[0].set()

    def topic(self, machine_path: str | None) -> str:
        """The plant's cmd topic, or a machine's (machine_path: area/line/machine)."""
        return cmd_topic(self.enterprise, self.site, machine_path)

    def send(self, topic: str, command: dict[str, Any], timeout_s: float = 3.0) -> Reply | None:
        """Publish and wait for the reply; None when none came (simulator not running)."""
        cmd_id = uuid.uuid4().hex[:12]
        done = threading.Event()
        box: list[Reply] = []
        with self._lock:
            self._waiting[cmd_id] = (done, box)
        try:
            if not self.connected.wait(timeout_s):
                return None
            self.client.publish(topic, orjson.dumps({**command, "id": cmd_id}), qos=1)
            done.wait(timeout_s)
            return box[0] if box else None
        finally:
            with self._lock:
                self._waiting.pop(cmd_id, None)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
