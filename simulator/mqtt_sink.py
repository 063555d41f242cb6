"""Publishes the plant's telemetry to an MQTT broker (paho-mqtt 2.x), losing nothing it can keep.

Flow: the simulation thread serialises each message into a bounded queue and hands it to paho
at once while the broker is connected and fewer than `window` messages await their
acknowledgement (PUBACK at QoS 1; the socket write at QoS 0); paho's network thread connects,
reconnects with backoff and resends unacknowledged QoS 1 messages after a reconnect. No extra
thread: handing over in the simulation thread keeps the GIL hand-offs of a drain thread off
the hot path (that design reached 0.43 of a bare paho loop; this one is measured in bench/).

When the queue is full (the broker is slow or gone):
- `block_when_full=True` (--fast backfills): the simulation waits; nothing is dropped.
- `block_when_full=False` (live runs, which cannot stop the clock): the oldest queued message
  is dropped, counted and logged. Counters and energy are cumulative, so a dropped sample
  loses no totals; the collector sees the seq gap.

paho pitfalls handled here (docs/architecture.md, MQTT pitfalls): publish() on a lost
connection returns MQTT_ERR_NO_CONN although paho has queued a QoS 1 message (so that is
success for QoS 1 and a retry for QoS 0); every return code is checked; the window bounds
paho's memory at QoS 0.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from shopfloor.commands import is_reply
from shopfloor.mqtt_url import BrokerUrl, make_client
from simulator.wills import WillKeepers

log = logging.getLogger("shopfloor.sim.mqtt")
OFFLINE = orjson.dumps({"online": False})


class MqttSink:
    def __init__(
        self,
        url: BrokerUrl,
        client_id: str,
        *,
        qos: int = 1,
        queue_size: int = 100_000,
        window: int = 1000,
        block_when_full: bool = True,
        will_topics: Iterable[str] = (),
        command_topics: Iterable[str] = (),
        on_command: Callable[[str, bytes], None] | None = None,
        ca_file: str | None = None,
        own_loop: bool = False,
    ):
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        if queue_size < 1:
            raise ValueError(f"queue size must be >= 1, got {queue_size}")
        self.url = url
        self.qos = qos
        self.queue_size = queue_size
        self.window = window
        self.block_when_full = block_when_full
        self.command_topics = list(command_topics)
        self.on_command = on_command
        self.count = 0  # messages accepted from the simulation
        self.dropped = 0
        # Two one-writer counters instead of a locked "outstanding": the simulation thread
        # counts what it hands to paho, the network thread what paho confirms.
        self.sent = 0
        self.published = 0
        self._q: deque[tuple[str, bytes, bool]] = deque()
        self._births: dict[str, bytes] = {}
        self._progress = threading.Condition()
        self._waiting = False
        self._connected = False
        self._ever_connected = False
        self._rebirth = False
        self._closing = False
        self._last_drop_log = 0.0
        self._fail_logged = 0.0
        # Set by the run: wakes a live simulation that sleeps until its next event, so a
        # backlog is handed over as acknowledgements free the window (see pump()).
        self.waker: Callable[[], None] | None = None
        self._signaled = False
        # A backfill hands messages over in bursts; a live run at once (a state change or a
        # command reply must not wait for the next message).
        self.burst = 64 if block_when_full else 1

        self.client = make_client(url, client_id, ca_file)
        self.client.max_inflight_messages_set(min(100, window))
        self.client.max_queued_messages_set(0)  # bounded by our own queue and window instead
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.wills = WillKeepers(url, list(will_topics), client_id, OFFLINE, ca_file)
        # own_loop (a --fast run, which never sleeps): the simulation thread drives paho's
        # socket itself, so each publish() is written at once, in the thread that made it,
        # with no network thread to hand over to (that hand-over per message was the cost
        # left at QoS 0, see bench/README.md). A live run sleeps between events and keeps
        # paho's network thread for acknowledgements, pings and reconnects meanwhile.
        self.own_loop = own_loop
        self._retry_at = 0.0
        self._backoff_s = 1.0
        if own_loop:
            self._connect()
        else:
            self.client.connect_async(url.host, url.port, keepalive=30)
            self.client.loop_start()

    # -- the simulation thread -------------------------------------------------------------

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        data = orjson.dumps(payload)
        if retain and topic.endswith("/status"):
            self._births[topic] = data
        self._q.append((topic, data, retain))
        self.count += 1
        if len(self._q) >= self.burst:
            self.pump()
        if len(self._q) >= self.queue_size:
            self._full()

    # -- own loop: the simulation thread is paho's network loop ----------------------------

    def _connect(self) -> None:
        """Connect (or reconnect) now, or wait for the backoff to pass; paho's own reconnect
        delay settings apply to its loop thread only, so the backoff is ours here."""
        if time.monotonic() < self._retry_at:
            return
        try:
            if self.client.socket() is None and not self._ever_connected:
                self.client.connect(self.url.host, self.url.port, keepalive=30)
            else:
                self.client.reconnect()
            self._backoff_s = 1.0
        except OSError as exc:
            self._retry_at = time.monotonic() + self._backoff_s
            self._backoff_s = min(30.0, self._backoff_s * 2)
            self._on_connect_fail(self.client, None)
            log.debug("connect to %s failed: %s", self.url, exc)

    def service(self, timeout_s: float = 0.0) -> None:
        """Read acknowledgements and commands, write what paho holds, keep the connection
        alive; reconnect with backoff when it is lost. Own-loop mode only."""
        client = self.client
        sock = client.socket()
        if sock is None:
            self._connect()
            if client.socket() is None:
                time.sleep(min(timeout_s, max(0.0, self._retry_at - time.monotonic())))
                return
            sock = client.socket()
        try:
            readable, writable, _ = select.select(
                [sock], [sock] if client.want_write() else [], [], timeout_s
            )
        except (OSError, ValueError):
            readable, writable = [sock], []
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        if readable:
            rc = client.loop_read()
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and (writable or client.want_write()):
            rc = client.loop_write()
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            rc = client.loop_misc()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._connected = False
            if not self._closing or self._q or self.sent > self.published:
                self._connect()

    def pump(self) -> None:
        """Hand queued messages to paho, in order, while connected and within the window.
        Only the simulation thread calls it: paho's callbacks hold paho's locks, so handing
        over from them could deadlock with a publish() in progress."""
        self._signaled = False
        if self.own_loop:
            self.service(0.0)
        q = self._q
        if self._rebirth and self._connected:
            # After a reconnect, say again that every machine is online.
            self._rebirth = False
            q.extendleft((t, d, True) for t, d in reversed(list(self._births.items())))
        if not (q and self._connected and self.sent - self.published < self.window):
            return
        # paho wakes its network thread with a socket-pair write on every publish(); for a
        # burst, one wake at the end does (measured: a third of the publish cost at QoS 0).
        # In own-loop mode there is no such thread and no socket pair.
        client = self.client
        wake = client._sockpairW
        client._sockpairW = None
        try:
            while q and self._connected and self.sent - self.published < self.window:
                topic, data, retain = q[0]
                self.sent += 1
                rc = client.publish(topic, data, self.qos, retain).rc
                if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                    rc == MQTTErrorCode.MQTT_ERR_NO_CONN and self.qos > 0
                ):
                    q.popleft()  # NO_CONN at QoS 1: paho queued it and sends it after reconnecting
                    continue
                self.sent -= 1
                if rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                    self._connected = False
                else:
                    log.error("publish to %s failed: %s; will retry", topic, mqtt.error_string(rc))
                return
        finally:
            client._sockpairW = wake
            if wake is not None:
                with contextlib.suppress(BlockingIOError, OSError):
                    wake.send(b"0")

    def _full(self) -> None:
        if not self.block_when_full or self._closing:
            while len(self._q) >= self.queue_size:
                self._q.popleft()
                self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log > 10:
                self._last_drop_log = now
                log.warning(
                    "publish queue full (%d): dropping the oldest messages; %d dropped so far",
                    self.queue_size,
                    self.dropped,
                )
            return
        # Backpressure: a --fast run waits for the broker instead of dropping, until there is
        # room for a window's worth again (not one slot: that would wake it per message).
        low_water = max(0, self.queue_size - self.window)
        while len(self._q) > low_water:
            self._wait_progress(0.5)
            self.pump()

    def _wait_progress(self, timeout_s: float) -> None:
        if self.own_loop:
            self.service(timeout_s)
            return
        with self._progress:
            self._waiting = True
            self._progress.wait(timeout_s)
            self._waiting = False

    def close(self, stall_s: float = 10.0) -> None:
        """Deliver what is queued and in flight, giving up only after `stall_s` without
        progress (a broker that is gone), then disconnect cleanly."""
        self._closing = True
        last, since = self.published, time.monotonic()
        while (self._q or self.sent > self.published) and time.monotonic() - since < stall_s:
            self.pump()
            self._wait_progress(0.05)
            if self.published != last:
                last, since = self.published, time.monotonic()
        left = len(self._q) + max(0, self.sent - self.published)
        if left:
            log.error(
                "%d messages not delivered: broker %s unreachable at shutdown", left, self.url
            )
        self.wills.close()
        self.client.disconnect()
        if self.own_loop:
            self.service(0.0)  # the DISCONNECT packet out
        else:
            self.client.loop_stop()
        log.info(
            "published %d messages to %s (%d dropped, %d undelivered)",
            self.published,
            self.url,
            self.dropped,
            left,
        )

    def stats(self) -> dict[str, int]:
        return {
            "accepted": self.count,
            "published": self.published,
            "queued": len(self._q),
            "in_flight": self.sent - self.published,
            "dropped": self.dropped,
        }

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _notify(self, force: bool = False) -> None:
        # Wake a waiting simulation only once half the window is free: waking it for every
        # acknowledgement ping-pongs the GIL between threads per message (measured: half
        # the QoS 0 throughput).
        if self._waiting and (
            force or self._closing or self.sent - self.published <= self.window // 2
        ):
            with self._progress:
                self._progress.notify_all()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.url, reason)
            return
        for topic in self.command_topics:
            client.subscribe(topic, qos=1)
        if self._ever_connected:
            self._rebirth = True
            log.info(
                "reconnected to %s; %d messages queued",
                self.url,
                len(self._q) + self.sent - self.published,
            )
        else:
            log.info("connected to %s", self.url)
        self._ever_connected = True
        self._connected = True
        self._notify(force=True)
        if self._q and self.waker is not None:
            self.waker()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        now = time.monotonic()
        if now - self._fail_logged > 10:
            self._fail_logged = now
            log.warning(
                "broker %s unreachable; retrying with backoff (%d messages queued)",
                self.url,
                len(self._q),
            )

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was = self._connected
        self._connected = False
        if was and not self._closing:
            log.warning("lost the broker %s (%s); queueing and reconnecting", self.url, reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        self.published += 1
        self._notify()
        if (
            self._q
            and not self._signaled
            and self.waker is not None
            and self.sent - self.published <= self.window // 2
        ):
            self._signaled = True
            self.waker()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.on_command is not None and not is_reply(msg.topic):
            self.on_command(msg.topic, bytes(msg.payload))
