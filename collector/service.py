"""The collector: MQTT in, validated and deduplicated records out to a store, nothing lost.

- QoS 1, a fixed client id and a persistent session (clean_session=False), and paho's
  manual_ack: a message is acknowledged to the broker only once it is durably stored (or
  dead-lettered), in the order received, so a crashed collector loses nothing: the broker
  redelivers whatever was not acknowledged.
- One writer thread stores batches. If the store is down it retries with backoff and the
  buffer fills; when the buffer is full the network thread stops reading, so the broker keeps
  the messages (it sends at most its inflight window unacknowledged anyway).
- Bad messages never reach the store: dead-letter file, a counter per reason, and an ack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt

from collector.deadletter import DeadLetter
from collector.legacy import PowerStates
from collector.metrics import Metrics
from collector.seqtrack import SeqTracker
from collector.validate import Ignore, Reject, validate
from shopfloor import clock
from shopfloor.mqtt_url import BrokerUrl, make_client
from shopfloor.store.base import Record, Store, StoreError

log = logging.getLogger("shopfloor.collect")
ALL_PLANTS = "shopfloor/v1/+/+/+/+/+/+"


class Collector:
    def __init__(
        self,
        url: BrokerUrl,
        store: Store,
        *,
        client_id: str = "shopfloor-collector",
        topic_filter: str = ALL_PLANTS,
        shared_group: str | None = None,
        dead_letter: DeadLetter | None = None,
        metrics: Metrics | None = None,
        max_future_ms: int = 24 * 3600 * 1000,
        max_bytes: int = 64 * 1024,
        buffer_limit: int = 50_000,
        batch_max: int = 5000,
        flush_s: float = 0.05,
        ca_file: str | None = None,
    ):
        self.url = url
        self.store = store
        self.topic = f"$share/{shared_group}/{topic_filter}" if shared_group else topic_filter
        self.dead_letter = dead_letter or DeadLetter(None)
        self.metrics = metrics or Metrics()
        self.max_future_ms = max_future_ms
        self.max_bytes = max_bytes
        self.buffer_limit = buffer_limit
        self.batch_max = batch_max
        self.flush_s = flush_s
        self.power_states = PowerStates()
        known: dict[str, int] = {}
        try:
            known = store.max_seq()
            for m in store.machines():
                if m.connectivity == "legacy" and m.power_kw:
                    self.power_states.learn(m.machine, m.power_kw)
        except StoreError as exc:
            log.warning(
                "store not reachable at start (%s): sequences start fresh; writes will retry", exc
            )
        self.seqs = SeqTracker(known)
        self._buf: list[Record] = []
        self._writing: list[Record] = []  # the batch being written: counts against the bound
        self._acks: deque[list[Any]] = deque()  # [mid, qos, done] in receive order
        self._cond = threading.Condition()
        self._stopping = False
        self._stopped = threading.Event()
        self._last_log = time.monotonic()
        self.client = make_client(url, client_id, ca_file, clean_session=False, manual_ack=True)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._writer = threading.Thread(
            target=self._write_loop, name="collector-writer", daemon=True
        )

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> Collector:
        self._writer.start()
        self.client.connect_async(self.url.host, self.url.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Store and acknowledge what is buffered, then leave (the session stays on the broker)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.client.unsubscribe(self.topic)
        self._stopped.wait(timeout_s)
        self.client.disconnect()
        self.client.loop_stop()
        self.dead_letter.close()
        log.info("collector stopped: %s", self.metrics.summary())

    # -- network thread --------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.url, reason)
            return
        client.subscribe(self.topic, qos=1)
        log.info("connected to %s, subscribing to %s", self.url, self.topic)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        if all(not r.is_failure for r in reasons):
            self.metrics.subscribed.set(1)
        else:
            log.error("broker %s refused the subscription to %s: %s", self.url, self.topic, reasons)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.metrics.subscribed.set(0)
        if not self._stopping:
            log.warning("lost the broker %s (%s); reconnecting", self.url, reason)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("broker %s unreachable; retrying with backoff", self.url)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.metrics.received.inc()
        raw = bytes(msg.payload)
        got = validate(msg.topic, raw, clock.now_ms(), self.max_future_ms, self.max_bytes)
        records: list[Record] = []
        if isinstance(got, Reject):
            self.dead_letter.write(msg.topic, raw, got.reason, got.detail)
            self.metrics.rejected.labels(got.reason).inc()
        elif isinstance(got, Ignore):
            pass
        else:
            records = self._accept(got, msg.retain)
        with self._cond:
            while len(self._buf) + len(self._writing) >= self.buffer_limit and not self._stopping:
                # Full: stop reading. The broker keeps what we do not take.
                self._cond.wait(0.5)
            if msg.qos > 0:
                self._acks.append([msg.mid, msg.qos, not records, len(records)])
            if records:
                self._buf.extend(records)
                self.metrics.buffered.set(len(self._buf))
                if len(self._buf) >= self.batch_max:
                    self._cond.notify_all()

    def _accept(self, rec: Record, retained: bool = False) -> list[Record]:
        if rec.channel == "status":
            if rec.payload.get("online"):
                self.seqs.restart(rec.machine)
                if rec.payload.get("connectivity") == "legacy" and rec.payload.get("power_kw"):
                    self.power_states.learn(rec.machine, rec.payload["power_kw"])
            return [rec]
        if retained:
            # The broker's copy of a machine's last state, sent on every (re)subscribe: old
            # news, stored idempotently, but not a sign of order, duplicates or gaps.
            return [rec]
        if rec.seq is not None and not self.seqs.observe(rec.machine, rec.seq):
            self.metrics.duplicates.labels(rec.machine).inc()
            return []
        self.metrics.gaps.labels(rec.machine).set(self.seqs.gaps(rec.machine))
        out = [rec]
        if rec.channel == "telemetry" and self.power_states.is_legacy(rec.machine):
            inferred = self.power_states.infer(rec)
            if inferred is not None:
                out.append(inferred)
        return out

    # -- writer thread -----------------------------------------------------------------------

    def _write_loop(self) -> None:
        backoff = 0.5
        while True:
            with self._cond:
                if not self._buf and not self._acks_ready():
                    if self._stopping:
                        break
                    self._cond.wait(self.flush_s)
                batch = self._writing = self._buf
                self._buf = []
                # How many received messages this batch completes (their records are all in it).
                n_acks = len(self._acks)
            if batch:
                t0 = time.perf_counter()
                try:
                    self.store.write(batch)
                except StoreError as exc:
                    self.metrics.write_errors.inc()
                    log.warning(
                        "store write failed (%s); retrying in %.1f s with %d buffered",
                        exc,
                        backoff,
                        len(batch),
                    )
                    with self._cond:
                        # Still counted against the buffer bound while it waits for a retry.
                        self._writing = []
                        self._buf = batch + self._buf
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = 0.5
                self.metrics.write_seconds.observe(time.perf_counter() - t0)
                self.metrics.stored.inc(len(batch))
            with self._cond:
                self._writing = []
                for i in range(min(n_acks, len(self._acks))):
                    self._acks[i][2] = True
                ready = []
                while self._acks and self._acks[0][2]:
                    mid, qos, _, _ = self._acks.popleft()
                    ready.append((mid, qos))
                self.metrics.buffered.set(len(self._buf))
                self._cond.notify_all()
            for mid, qos in ready:
                self.client.ack(mid, qos)
            now = time.monotonic()
            if now - self._last_log > 30:
                self._last_log = now
                log.info("collector: %s", self.metrics.summary())
        self._stopped.set()

    def _acks_ready(self) -> bool:
        return bool(self._acks) and self._acks[0][2]
