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

A broker acknowledgement is not the end (issue 14: a killed broker loses what it acknowledged
but had not yet delivered): with an `outbox` (simulator/outbox.py, on by default) every
sequenced message handed to paho is also kept until the collector's watermark covers it (the
sink subscribes to `watermark_filter`). After a reconnect, once any watermark has been seen,
the sink drops what paho still held for the old connection and sends, in order and before
anything newer, the births and then everything the outbox holds; the collector drops by
(machine, seq) what it already has. With no watermark ever seen (no collector) a reconnect
resends only what paho held, as before, and the outbox merely keeps the newest messages.
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
from pydantic import ValidationError

from shopfloor.commands import is_reply
from shopfloor.contract import WATERMARK_CHANNEL, WatermarkPayload
from shopfloor.mqtt_url import BrokerUrl, make_client
from simulator.outbox import DEFAULT_BOUND, Entry, Outbox
from simulator.wills import WillKeepers

log = logging.getLogger("shopfloor.sim.mqtt")
OFFLINE = orjson.dumps({"online": False})
# After a stop request (SIGINT/SIGTERM): how long close() delivers the backlog, then how
# long it gives what is left once the messages never handed to the client are skipped.
STOP_BUDGET_S = 1.5
WATERMARK_SUFFIX = "/" + WATERMARK_CHANNEL
CONFIRM_S = 3.0  # at close, how long to wait for the collector's watermark to cover the outbox
RESEND_WAIT_S = 30.0  # after a reconnect, how long the outbox waits for a collector's watermark


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
        outbox: int = DEFAULT_BOUND,
        watermark_filter: str | None = None,
        clear_at_exit: str | None = None,
    ):
        """`outbox`: messages kept until the collector's watermark covers them (0: none kept,
        as before); `watermark_filter`: the subscription that brings the watermarks
        (shopfloor.contract.watermark_filter); `clear_at_exit`: a topic whose retained
        message holds while this run lives (the speed announced on the plant's reply topic):
        emptied at a clean close, and by the broker (this connection's will) if the run
        dies, so no client reads a stopped run's speed as the one in use."""
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
        self._q: deque[tuple[str, bytes, bool, int | None]] = deque()
        # Kept until the collector's watermark covers it; paho's own queue holds only what the
        # window lets through, so after a reconnect the outbox can send it all again in order.
        self.outbox = Outbox(outbox) if outbox > 0 else None
        self.watermark_filter = watermark_filter
        self._marks_in: deque[tuple[str, int]] = deque()  # network thread -> simulation thread
        self._keys: dict[str, str] = {}  # topic -> its machine prefix
        self._resend: deque[tuple[str, bytes, bool, Entry | None]] = deque()
        self.resent = 0
        self.reconnects = 0  # read by the Sparkplug sink, which publishes its births again
        # Set by the network thread: a watermark arrived (a collector says what it has).
        self._watermark_seen = False
        self._resend_outbox = False  # decided at each reconnect, with the clearing of paho's queue
        self._holding = False  # the outbox waits for a watermark of the new connection (_hold)
        self._fresh_mark = False  # set by the network thread: a watermark since the reconnect
        self._reconnected_at = 0.0
        self._discarded = 0  # handed to paho, then dropped from its queue by a reconnect
        self._last_outbox_log = 0.0
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
        # paho's queue is cleared at a reconnect only when the outbox surely holds all of it.
        self._clear_on_reconnect = self.outbox is not None and self.outbox.bound >= window
        self.client.max_queued_messages_set(0)  # bounded by our own queue and window instead
        self.clear_at_exit = clear_at_exit
        if clear_at_exit is not None:
            # A zero-length retained will deletes the retained message (MQTT 3.1.1, 3.3.1.3).
            self.client.will_set(clear_at_exit, None, qos=1, retain=True)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        # A will connection lost on its own makes the broker publish that machine offline
        # (retained) while it runs on: its online status is sent again once the will
        # connection is back (the wills' thread queues the index; pump() sends it).
        self._will_topics = list(will_topics)
        self._wills_back: deque[int] = deque()
        self.wills = WillKeepers(
            url, self._will_topics, client_id, OFFLINE, ca_file, on_reconnect=self._will_back
        )
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

    @property
    def reconnecting(self) -> bool:
        """The connection was up and is lost (as far as paho's network thread knows): a
        reconnect, counted in `reconnects`, is to come. Read by the Sparkplug sink."""
        return self._ever_connected and not self._connected

    # -- the simulation thread -------------------------------------------------------------

    def _will_back(self, i: int) -> None:
        self._wills_back.append(i)  # deque appends are atomic: no lock with pump()
        if self.waker is not None:
            self.waker()

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        data = orjson.dumps(payload)
        if retain and (topic.endswith("/status") or topic == self.clear_at_exit):
            # Sent again after a reconnect: the lost connection's will emptied the announcement.
            self._births[topic] = data
        self.emit_raw(topic, data, retain, payload.get("seq"))

    def emit_raw(self, topic: str, data: bytes, retain: bool, seq: int | None = None) -> None:
        """A message already encoded (Sparkplug B, simulator/sparkplug_sink.py); `seq` keeps
        it in the outbox under its topic's machine prefix, None leaves it out."""
        self._q.append((topic, data, retain, seq))
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
            if not self._closing or self._q or self._resend or self._in_flight() > 0:
                self._connect()

    def pump(self) -> None:
        """Hand queued messages to paho, in order, while connected and within the window.
        Only the simulation thread calls it: paho's callbacks hold paho's locks, so handing
        over from them could deadlock with a publish() in progress."""
        self._signaled = False
        if self.own_loop:
            self.service(0.0)
        if self._marks_in:
            self._apply_marks()
        q = self._q
        resend = self._resend
        if self._rebirth and self._connected:
            # After a reconnect, say again that every machine is online, then send again all
            # the collector may lack, in order, before anything newer.
            self._rebirth = False
            resend.clear()
            resend.extend((t, d, True, None) for t, d in self._births.items())
            self._holding = self._resend_outbox
        while self._wills_back:
            topic = self._will_topics[self._wills_back.popleft()]
            if topic in self._births:
                resend.append((topic, self._births[topic], True, None))
        if self._holding and self._connected and not self._hold():
            self._holding = False
            self._apply_marks()
            assert self.outbox is not None
            held = self.outbox.pending()
            resend.extend((e.topic, e.data, e.retain, e) for e in held)
            log.info(
                "sending again the %d messages the collector has not confirmed stored",
                len(held),
            )
        if resend and self._connected and self._in_flight() < self.window:
            self._send_again()
        if (
            resend
            or self._holding
            or not (q and self._connected and self._in_flight() < self.window)
        ):
            return
        # paho wakes its network thread with a socket-pair write on every publish(); for a
        # burst, one wake at the end does (measured: a third of the publish cost at QoS 0).
        # In own-loop mode there is no such thread and no socket pair.
        client = self.client
        wake = client._sockpairW
        client._sockpairW = None
        outbox = self.outbox
        try:
            while q and self._connected and self._in_flight() < self.window:
                topic, data, retain, seq = q[0]
                self.sent += 1
                rc = client.publish(topic, data, self.qos, retain).rc
                if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                    rc == MQTTErrorCode.MQTT_ERR_NO_CONN and self.qos > 0
                ):
                    q.popleft()  # NO_CONN at QoS 1: paho queued it and sends it after reconnecting
                    if outbox is not None and seq is not None:
                        key = self._keys.get(topic)
                        if key is None:
                            key = self._keys[topic] = topic.rpartition("/")[0]
                        if outbox.add(key, seq, topic, data, retain):
                            self._outbox_full()
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

    def _send_again(self) -> None:
        """Hand the resend list to paho (births, then the outbox), in order, within the
        window; entries the watermark covered meanwhile are skipped."""
        resend = self._resend
        client = self.client
        while resend and self._connected and self._in_flight() < self.window:
            topic, data, retain, entry = resend[0]
            if entry is not None and not entry.alive:
                resend.popleft()
                continue
            self.sent += 1
            rc = client.publish(topic, data, self.qos, retain).rc
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                rc == MQTTErrorCode.MQTT_ERR_NO_CONN and self.qos > 0
            ):
                resend.popleft()
                if entry is not None:
                    self.resent += 1
                continue
            self.sent -= 1
            if rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                self._connected = False
            else:
                log.error("publish to %s failed: %s; will retry", topic, mqtt.error_string(rc))
            return

    def _hold(self) -> bool:
        """After a reconnect, the outbox and everything newer wait for a watermark that came on
        the new connection: it says a collector is subscribed again (a broker that lost its
        disk lost the collector's session too, and what is sent before the collector
        subscribes again reaches nobody) and trims the outbox to what it still lacks. A
        retained copy kept by the broker counts too (the broker kept the collector's session
        with it). Not longer than RESEND_WAIT_S, and not when closing."""
        if self._fresh_mark or self._closing:
            return False
        waited = time.monotonic() - self._reconnected_at
        if waited < RESEND_WAIT_S:
            return True
        log.warning(
            "no collector watermark %.0f s after reconnecting: sending the outbox again anyway",
            waited,
        )
        return False

    def _apply_marks(self) -> None:
        """Watermarks that arrived (network thread) applied to the outbox (simulation thread)."""
        outbox = self.outbox
        marks = self._marks_in
        while marks:
            key, seq = marks.popleft()
            if outbox is not None:
                outbox.covered(key, seq)

    def _outbox_full(self) -> None:
        now = time.monotonic()
        if now - self._last_outbox_log > 10:
            self._last_outbox_log = now
            assert self.outbox is not None
            log.warning(
                "outbox full (%d): the oldest published messages are no longer kept for a "
                "resend after a broker crash; %d so far%s",
                self.outbox.bound,
                self.outbox.dropped,
                "" if self.outbox.watermark_seen else " (no collector watermark seen yet)",
            )

    def _in_flight(self) -> int:
        return self.sent - self.published - self._discarded

    _stopping = False  # set by stop_waiting()

    def stop_waiting(self) -> None:
        """A stop request, from the run's signal handler (simulation thread): a full queue no
        longer waits for room, and close() delivers within STOP_BUDGET_S instead of until the
        backlog is gone (a backfill may be far ahead of the broker)."""
        self._stopping = True

    def _skip_unsent(self) -> int:
        """Drop the queued sequenced messages never handed to the client, keeping the statuses
        (the offline ones last): each machine's stream then ends at a contiguous seq, which a
        restart resumes from (simulator.resume). Returns how many were skipped."""
        kept = deque(m for m in self._q if m[0].endswith("/status") or m[0] == self.clear_at_exit)
        skipped = len(self._q) - len(kept)
        self._q = kept
        if skipped:
            log.warning(
                "stopping: %d messages not yet handed to the broker are skipped; each machine "
                "ends at its last message sent",
                skipped,
            )
        return skipped

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
        while len(self._q) > low_water and not self._stopping:
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
        progress (a broker that is gone), then disconnect cleanly. After stop_waiting(): the
        backlog gets STOP_BUDGET_S, then what was never handed over is skipped and the rest
        (statuses, what is in flight) gets STOP_BUDGET_S more."""
        self._closing = True
        if self.clear_at_exit in self._births:  # announced: withdrawn after everything else
            self.emit_raw(self.clear_at_exit, b"", True)
        last, since = self.published, time.monotonic()
        budget, skipped = since + STOP_BUDGET_S, -1
        while (
            self._q or self._resend or self._in_flight() > 0
        ) and time.monotonic() - since < stall_s:
            if self._stopping and time.monotonic() > budget:
                if skipped >= 0:
                    break  # what is left is reported below
                skipped = self._skip_unsent()
                budget = time.monotonic() + STOP_BUDGET_S
            self.pump()
            self._wait_progress(0.05)
            if self.published != last:
                last, since = self.published, time.monotonic()
        left = len(self._q) + len(self._resend) + max(0, self._in_flight())
        if left:
            log.error(
                "%d messages not delivered: broker %s unreachable at shutdown", left, self.url
            )
        # Asked to stop (a signal): no waiting for the collector, the stop has its own budget.
        unconfirmed = self._confirm(0.0 if self._stopping or left else CONFIRM_S)
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
        if self.outbox is not None:
            log.info(
                "outbox: %d sent again after reconnects, %d dropped by its bound (%d), %d "
                "delivered to the broker and not yet confirmed stored at exit (a running "
                "collector stores them; only a broker crash from now on could lose them)",
                self.resent,
                self.outbox.dropped,
                self.outbox.bound,
                unconfirmed,
            )

    def _confirm(self, wait_s: float) -> int:
        """At close: give the collector up to `wait_s` to confirm the outbox stored (only if a
        watermark was ever seen). Returns what stays unconfirmed: a crash of the broker from
        now on could lose it, and nothing is left to send it again."""
        outbox = self.outbox
        if outbox is None:
            return 0
        deadline = time.monotonic() + wait_s
        while len(outbox) and outbox.watermark_seen and time.monotonic() < deadline:
            self._wait_progress(0.05)
            self._apply_marks()
        self._apply_marks()
        return len(outbox)

    def stats(self) -> dict[str, int]:
        return {
            "accepted": self.count,
            "published": self.published,
            "queued": len(self._q),
            "in_flight": self._in_flight(),
            "dropped": self.dropped,
            "outbox": len(self.outbox) if self.outbox is not None else 0,
            "outbox_dropped": self.outbox.dropped if self.outbox is not None else 0,
            "resent": self.resent,
        }

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _notify(self, force: bool = False) -> None:
        # Wake a waiting simulation only once half the window is free: waking it for every
        # acknowledgement ping-pongs the GIL between threads per message (measured: half
        # the QoS 0 throughput).
        if self._waiting and (force or self._closing or self._in_flight() <= self.window // 2):
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
        if self.watermark_filter is not None:
            client.subscribe(self.watermark_filter, qos=1)
        if self._ever_connected:
            # Without any watermark (no collector to say what it has) paho's own resend of
            # what it held stays, as before: sending the whole outbox again would only repeat.
            self._resend_outbox = self._clear_on_reconnect and self._watermark_seen
            self._fresh_mark = False
            self._reconnected_at = time.monotonic()
            self._rebirth = True
            self.reconnects += 1
            if self._resend_outbox:
                # paho would now send again what it held for the old connection, ahead of the
                # older messages the broker may have lost: the outbox holds all of it and
                # sends it again in order instead (called before paho's own resend).
                with client._out_message_mutex:
                    self._discarded += len(client._out_messages)
                    client._out_messages.clear()
                    client._inflight_messages = 0
            log.info(
                "reconnected to %s; %d messages queued, %d kept until the collector confirms them",
                self.url,
                len(self._q) + max(0, self._in_flight()),
                len(self.outbox) if self.outbox is not None else 0,
            )
        else:
            log.info("connected to %s", self.url)
        self._ever_connected = True
        self._connected = True
        self._notify(force=True)
        if (self._q or self._rebirth) and self.waker is not None:
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
            (self._q or self._resend)
            and not self._signaled
            and self.waker is not None
            and self._in_flight() <= self.window // 2
        ):
            self._signaled = True
            self.waker()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic
        if topic.endswith(WATERMARK_SUFFIX):
            try:
                mark = WatermarkPayload.model_validate_json(msg.payload)
            except ValidationError:
                log.debug("ignoring a malformed watermark on %s", topic)
                return
            self._marks_in.append((topic[: -len(WATERMARK_SUFFIX)], mark.seq))
            self._watermark_seen = True
            if not self._fresh_mark:
                self._fresh_mark = True
                if self.waker is not None:
                    self.waker()  # a live run holding its outbox goes on at once
            return
        if self.on_command is not None and not is_reply(topic):
            self.on_command(topic, bytes(msg.payload))
