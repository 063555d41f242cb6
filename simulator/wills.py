"""One MQTT last will per machine.

MQTT allows one will per connection, and the contract wants each machine's own `status` topic
to turn offline if the simulator dies (SIGKILL, power loss). So each machine gets a small
connection that only holds its will; one thread keeps all of them alive with paho's loop().
A clean stop disconnects them properly, which discards the wills (the simulator publishes an
explicit offline status instead).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from shopfloor.mqtt_url import BrokerUrl, make_client

log = logging.getLogger("shopfloor.sim.mqtt")


class WillKeepers:
    def __init__(
        self,
        url: BrokerUrl,
        topics: list[str],
        client_id: str,
        payload: bytes | list[bytes],
        ca_file: str | None,
        retain: bool = True,
        on_reconnect: Callable[[int], None] | None = None,
        will_again: Callable[[int], bytes] | None = None,
        on_alive: Callable[[int], None] | None = None,
    ):
        """`payload`: one for every topic, or one per topic (Sparkplug's NDEATH carries its
        edge node's bdSeq); `retain`: False for Sparkplug, whose deaths are never retained.
        `on_reconnect(i)`: called (in the wills' thread) when will connection i is acknowledged
        again after it was lost, which made the broker publish its will meanwhile.
        `will_again(i)`: the will payload for connection i's next session, asked before each
        reconnect (Sparkplug's NDEATH carries a bdSeq that goes up with every session).
        `on_alive(i)`: called (in the wills' thread) once will connection i has answered a
        round trip asked by `probe(i)`, which proves its session (and its will) is registered
        at the broker the data connection reaches now; if the connection is lost instead,
        on_reconnect(i) answers the probe once it is back."""
        self.url = url
        self.on_reconnect = on_reconnect
        self.will_again = will_again
        self.topics = topics
        self.retain = retain
        self.clients: list[mqtt.Client] = []
        payloads = payload if isinstance(payload, list) else [payload] * len(topics)
        for i, (topic, data) in enumerate(zip(topics, payloads, strict=True)):
            c = make_client(url, f"{client_id}-will-{i}", ca_file)
            c.will_set(topic, data, qos=1, retain=retain)
            self.clients.append(c)
        self.on_alive = on_alive
        # probe(i) (any thread) -> the wills' thread; then the UNSUBSCRIBE's message id.
        self._probe_asked = [False] * len(self.clients)
        self._probe_mid: list[int | None] = [None] * len(self.clients)
        for i, c in enumerate(self.clients):
            c.on_unsubscribe = lambda cl, ud, mid, rcs, props, i=i: self._answered(i, mid)
        self._up = [False] * len(self.clients)
        self._retry_at = [0.0] * len(self.clients)
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by probe() and close(): no waiting out a poll
        self._thread: threading.Thread | None = None
        if self.clients:
            self._thread = threading.Thread(target=self._keep, name="mqtt-wills", daemon=True)
            self._thread.start()

    def probe(self, i: int) -> None:
        """Ask will connection i for a round trip (any thread): on_alive(i) follows, or
        on_reconnect(i) if the connection turns out lost."""
        self._probe_asked[i] = True  # a list item store: atomic, read by the wills' thread
        self._wake.set()

    def _answered(self, i: int, mid: int) -> None:
        if mid == self._probe_mid[i]:
            self._probe_mid[i] = None
            if self.on_alive is not None:
                try:
                    self.on_alive(i)
                except Exception:
                    log.exception("reacting to will connection %d's answer", i)

    def _keep(self) -> None:
        backoff = [1.0] * len(self.clients)
        armed = False
        acked = [False] * len(self.clients)
        ever = [False] * len(self.clients)
        # The will for connection i's next CONNECT is set already: an attempt that failed
        # before sending CONNECT (the broker still down) starts no session, so no new bdSeq.
        will_ready = [False] * len(self.clients)
        while not self._stop.is_set():
            self._wake.clear()  # before the scan: a probe() during it is seen next round
            now = time.monotonic()
            for i, c in enumerate(self.clients):
                if not self._up[i]:
                    if now < self._retry_at[i]:
                        continue
                    try:
                        if ever[i] and self.will_again is not None and not will_ready[i]:
                            c.will_set(
                                self.topics[i], self.will_again(i), qos=1, retain=self.retain
                            )
                            will_ready[i] = True
                        c.connect(self.url.host, self.url.port, keepalive=60)
                        will_ready[i] = False  # CONNECT sent: that will is in use
                        self._up[i] = True
                        backoff[i] = 1.0
                    except OSError:
                        self._retry_at[i] = now + backoff[i]
                        backoff[i] = min(backoff[i] * 2, 30.0)
                        continue
                rc = c.loop(timeout=0.0)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._up[i] = False
                    self._retry_at[i] = now + backoff[i]
                    self._probe_mid[i] = None  # never answered: the reconnect answers it
                now_acked = c.is_connected()
                if now_acked and not acked[i]:
                    # A new session answers any probe: a probe still in flight belonged to
                    # the lost connection (paho does not send an UNSUBSCRIBE again).
                    self._probe_mid[i] = None
                    if ever[i] and self.on_reconnect is not None:
                        self._probe_asked[i] = False
                        try:
                            self.on_reconnect(i)
                        except Exception:
                            log.exception("reacting to will connection %d's reconnect", i)
                    ever[i] = True
                acked[i] = now_acked
                if self._probe_asked[i] and now_acked:
                    # UNSUBSCRIBE of a filter never subscribed: the broker answers UNSUBACK all
                    # the same (MQTT 3.1.1, 3.10.4), and nothing else changes.
                    self._probe_asked[i] = False
                    rc, mid = c.unsubscribe(f"{self.topics[i]}/probe")
                    if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                        self._probe_mid[i] = mid
                    else:
                        self._probe_asked[i] = True  # lost: its reconnect answers instead
            # Armed once the broker has acknowledged every will connection (CONNACK): what a
            # supervisor, or a test, waits for before it relies on the wills.
            if all(c.is_connected() for c in self.clients) != armed:
                armed = not armed
                if armed:
                    log.info("last wills armed for %d machines", len(self.clients))
            # While a probe awaits its answer, poll often: births may wait for it.
            self._wake.wait(0.01 if any(m is not None for m in self._probe_mid) else 0.25)

    @property
    def connected(self) -> int:
        return sum(self._up)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        for i, c in enumerate(self.clients):
            if self._up[i]:
                c.disconnect()  # a clean DISCONNECT discards the will
                c.loop(timeout=0.1)
