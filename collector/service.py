"""The collector: MQTT in, validated and deduplicated records out to a store, nothing lost.

Crash-only (see also docs/architecture.md, "Sequence numbers and duplicates" and "MQTT pitfalls"):

- QoS 1, a fixed client id and a persistent session (clean_session=False), and paho's
  manual_ack: a message is acknowledged to the broker only once it is durably stored (or
  dead-lettered), in the order received, so a crashed collector loses nothing: the broker
  redelivers whatever was not acknowledged. Acknowledgements belong to the connection a
  message came on: after a reconnect the broker numbers messages afresh and sends the
  unacknowledged ones again (dropped as duplicates, acknowledged once the original is stored),
  so an old message id is never acknowledged on a new connection.
- No exception from one message escapes paho's callback (paho re-raises it in its network
  thread, which dies while the process stays up): the message goes to the dead letters with
  reason "internal", is acknowledged and counted, and the traceback is logged once.
- The network thread never blocks (it waits on nothing but short locks), so keepalive pings
  are always answered. The buffer bound holds on every path: a message whose records would not
  fit is held as it came, unhandled and unacknowledged, and handled in order once the writer
  has made room; a broker's inflight window (Mosquitto's max_inflight_messages, 100 here, which
  it keeps only loosely under load) stops sending meanwhile. Should a broker send on regardless
  (amqtt has no window) and `max_waiting` messages wait, intake pauses:
  the collector disconnects (its session keeps the subscription, a broker that keeps sessions
  keeps the messages) and reconnects once the writer has drained the buffer to half.
- One writer thread stores batches. Transient store errors (down, locked, timeouts, 5xx) are
  retried with backoff without limit and shown in the metrics; a PermanentStoreError (a record
  the store never takes) makes the writer split the batch until it has found the offending
  records: those go to the dead letters with the store's message, the rest is stored, all is
  acknowledged.
- A thread that dies anyway ends the process (exit 70) so that a supervisor restarts it; /health
  answers 503 when records wait but nothing was stored for `stall_after_s`, or the broker
  subscription is lost.
- stop() (SIGTERM) stops intake at once, stores and acknowledges what is held within a grace
  period, then disconnects; if the store cannot take it in time, nothing more is acknowledged
  and the broker keeps those messages.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from collector import watermark
from collector.alerts import AlertPublisher
from collector.deadletter import DeadLetter
from collector.legacy import PowerStates
from collector.legacy import counted as counted_reading
from collector.metrics import Metrics
from collector.seqtrack import SeqTracker
from collector.sparkplug_in import MAX_DEVICES, MAX_NODES, REBIRTHS_PER_MIN, SparkplugIntake
from collector.validate import Ignore, Reject, validate
from shopfloor import alerts as alert_rules
from shopfloor import batch as batch_form
from shopfloor import clock, contract
from shopfloor import sparkplug as spb
from shopfloor.config.schema import PlantConfig
from shopfloor.mqtt_url import BrokerUrl, make_client
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import PermanentStoreError, Record, Store, StoreError
from shopfloor.store.rollup import END_OF_TIME_MS

log = logging.getLogger("shopfloor.collect")
ALL_PLANTS = "shopfloor/v1/+/+/+/+/+/+"
SPB_PREFIX = spb.NAMESPACE + "/"
FATAL_EXIT = 70  # EX_SOFTWARE: a worker thread died; the supervisor restarts us
STOP_GRACE_S = 5.0  # SIGTERM: time the store gets to take what is held (docker allows 10 s)
# A legacy sample, its inferred state, estimated meter reading and counted cycle (issue 12):
# the most records of a data message (births and Sparkplug NDEATHs may bring more: _room).
MAX_RECORDS_PER_MESSAGE = 4


@dataclass(slots=True)
class _Ack:
    mid: int
    qos: int
    done: bool  # its records are stored (or it had none)
    conn: int  # the connection it arrived on: only that connection may acknowledge it


def _clock_ts(rec: Record) -> int:
    """The message's ts as the seq rules may trust it: never later than our own clock, so a
    forgery stamped in the future (anything inside --max-future passes validation) buys no
    allowance for a seq jump."""
    return min(rec.ts, clock.now_ms())


def _exit_process(exc: BaseException) -> None:
    for h in logging.getLogger().handlers:
        h.flush()
    os._exit(FATAL_EXIT)


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
        machines: Collection[tuple[str, str, str]] | None = None,
        max_future_ms: int = 24 * 3600 * 1000,
        max_bytes: int = 64 * 1024,
        buffer_limit: int = 50_000,
        batch_max: int = 5000,
        max_waiting: int = 1000,
        flush_s: float = 0.05,
        stall_after_s: float = 60.0,
        keepalive: int = 30,
        ca_file: str | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        alerts: PlantConfig | None = None,
        alerts_every_s: float = 5.0,
        calendar: ShiftCalendar | None = None,
        sparkplug_filter: str | None = spb.ALL_GROUPS,
        spb_max_devices: int = MAX_DEVICES,
        spb_max_nodes: int = MAX_NODES,
        spb_rebirths_per_min: int = REBIRTHS_PER_MIN,
    ):
        """`machines`: the plant config's (area, line, machine) triples; messages of any other
        machine are dead-lettered ("unknown_machine"). `on_fatal` is called when a worker
        thread dies; the default ends the process with exit code 70. `alerts`: a plant config
        whose alert rules are evaluated every `alerts_every_s` and published (collector/alerts.py).
        `calendar`: the plant's shifts, which tell a legacy machine's off and break time
        (collector/legacy.py). `spb_max_devices`, `spb_max_nodes`, `spb_rebirths_per_min`: the
        Sparkplug intake's bounds (collector/sparkplug_in.py)."""
        self.url = url
        self.store = store
        self.topic = f"$share/{shared_group}/{topic_filter}" if shared_group else topic_filter
        # Sparkplug B beside our JSON, told apart by the topic namespace (docs/sparkplug.md).
        self.spb_topic = (
            None
            if sparkplug_filter is None
            else f"$share/{shared_group}/{sparkplug_filter}"
            if shared_group
            else sparkplug_filter
        )
        self.dead_letter = dead_letter or DeadLetter(None)
        self.machines = frozenset(machines) if machines is not None else None
        self.metrics = metrics or Metrics(
            {m for _, _, m in self.machines} if self.machines is not None else None
        )
        self.sparkplug = SparkplugIntake(
            self._ask_rebirth,
            max_devices=spb_max_devices,
            max_nodes=spb_max_nodes,
            rebirths_per_min=spb_rebirths_per_min,
            on_drop=lambda what: self.metrics.sparkplug_dropped.labels(what).inc(),
        )
        self.metrics.health_check = self.health
        self.max_future_ms = max_future_ms
        self.max_bytes = max_bytes
        self.buffer_limit = max(buffer_limit, MAX_RECORDS_PER_MESSAGE)
        self.batch_max = batch_max
        self.max_waiting = max_waiting
        self.flush_s = flush_s
        self.stall_after_s = stall_after_s
        self.keepalive = keepalive
        self.on_fatal = on_fatal or _exit_process
        self.power_states = PowerStates(calendar)
        known: dict[str, int] = {}
        known_ts: dict[str, int] = {}
        try:
            known = store.max_seq()
            legacy = []
            for m in store.machines():
                if m.last_ts:
                    known_ts[m.machine] = m.last_ts  # the clock of the highest seq stored
                if m.connectivity == "legacy" and m.power_kw:
                    self.power_states.learn(m.machine, m.power_kw)
                    legacy.append(m.machine)
            self._seed_legacy(legacy)
        except StoreError as exc:
            log.warning(
                "store not reachable at start (%s): sequences start fresh; writes will retry", exc
            )
            # Legacy meters start at 0 here; the first write adds what the store holds.
            self._legacy_seeded = False
        self.seqs = SeqTracker(known, known_ts=known_ts)
        self._buf: list[Record] = []
        self._writing: list[Record] = []  # the batch being written: counts against the bound
        self._acks: deque[_Ack] = deque()  # in receive order
        self._conn = 0  # bumped on every lost connection
        self._cond = threading.Condition()
        # Serializes message handling (seq bookkeeping, legacy inference) between the network
        # thread and the writer taking held messages; never held while waiting on the store.
        self._intake = threading.Lock()
        self._waiting: deque[tuple[mqtt.MQTTMessage, int]] = deque()
        self._stopping = False
        self._paused = False
        self._peak = 0
        self._last_progress = time.monotonic()  # the writer was idle or stored something
        self._fatal: BaseException | None = None
        self._logged: set[str] = set()  # internal errors whose traceback was logged
        self._stopped = threading.Event()
        self._last_log = time.monotonic()
        self.client = make_client(url, client_id, ca_file, clean_session=False, manual_ack=True)
        self.client.reconnect_delay_set(1, 30)
        # Belt and braces: our callbacks catch everything, but paho must never re-raise.
        self.client.suppress_exceptions = True
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._writer = threading.Thread(
            target=self._write_main, name="collector-writer", daemon=True
        )
        self.alerts = (
            AlertPublisher(self, alerts, alerts_every_s)
            if alerts is not None and alert_rules.enabled(alerts)
            else None
        )

    _legacy_seeded = True  # the estimated meters go on from the store's (see _seed_late)

    def _seed_late(self) -> None:
        """The store was down when the collector started, so each legacy machine's estimated
        meter began at 0 here. Before the first write, add the store's newest estimate to it,
        in the meter and in every reading held (nothing was written yet): a restart while the
        store is down neither resets the meter nor counts twice. Runs on the writer thread; a
        StoreError leaves it to the next attempt, like the write itself."""
        stored: dict[str, tuple[int, float]] = {}
        counted: dict[str, int] = {}
        for m in self.store.machines():
            if m.connectivity == "legacy":
                reading = self.store.counter_at("energy", END_OF_TIME_MS, m.machine).get(m.machine)
                if reading is not None:
                    stored[m.machine] = (reading[0], float(reading[1]["energy_kwh"]))
                count = self.store.counter_at("count", END_OF_TIME_MS, m.machine).get(m.machine)
                if count is not None:
                    counted[m.machine] = int(count[1]["total"])
        with self._intake, self._cond:
            self._seed_late_counts(counted)
            for m, (ts, kwh) in stored.items():
                meter = self.power_states.meters.get(m)
                if meter is None:
                    self.power_states.seed(m, ts, kwh, None)  # no sample yet: nothing to shift
                    continue
                meter.kwh += kwh
                for rec in (*self._writing, *self._buf):
                    if rec.machine == m and rec.channel == "energy" and rec.inferred:
                        rec.payload["energy_kwh"] = round(rec.payload["energy_kwh"] + kwh, 6)
            self._legacy_seeded = True

    def _seed_late_counts(self, counted: dict[str, int]) -> None:
        """_seed_late for counted cycles (collector/cycles.py): the count began at 0 here."""
        for m, total in counted.items():
            counter = self.power_states.counters.get(m)
            if counter is None:
                self.power_states.counted[m] = total
                continue
            counter.total += total
            for rec in (*self._writing, *self._buf):
                if rec.machine == m and rec.channel == "count" and rec.inferred:
                    rec.payload.update(counted_reading(rec.payload["total"] + total))

    def _seed_legacy(self, machines: list[str]) -> None:
        """Legacy machines go on from the store's newest estimated meter reading and inferred
        state, so a restart neither resets nor counts twice (collector/legacy.py)."""
        if not machines:
            return
        newest = self.store.last_changes(END_OF_TIME_MS)
        for m in machines:
            # Counted cycles (a stroke meter's, collector/cycles.py) go on from the store's.
            count = self.store.counter_at("count", END_OF_TIME_MS, m).get(m)
            if count is not None:
                self.power_states.counted[m] = int(count[1]["total"])
            reading = self.store.counter_at("energy", END_OF_TIME_MS, m).get(m)
            state = newest.get(m, (0, None, ""))[1]
            if reading is None:
                if state is not None:
                    self.power_states.current[m] = state
                continue
            ts, value = reading
            at = self.store.samples(m, ts, ts + 1)
            self.power_states.seed(
                m, ts, float(value["energy_kwh"]), at[-1][1] if at else None, state
            )

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> Collector:
        self._writer.start()
        if self.alerts is not None:
            self.alerts.start()
        self.client.connect_async(self.url.host, self.url.port, keepalive=self.keepalive)
        self.client.loop_start()
        return self

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop intake at once; store and acknowledge what is held, then leave (the session
        stays on the broker). True if everything held was stored; False if the store did not
        take it within `grace_s` (then it is left unacknowledged: the broker keeps it)."""
        if self.alerts is not None:
            self.alerts.stop()
        with self._cond:
            self._stopping = True
            held, waiting = self._held(), len(self._waiting)
            self._cond.notify_all()
        log.info(
            "stopping: intake stopped; storing the %d records held (and %d messages waiting)",
            held,
            waiting,
        )
        # A writer that died never sets _stopped: it is not waited for.
        drained = self._stopped.wait(grace_s if self._fatal is None else 0)
        if not drained:
            with self._cond:
                held, waiting = (
                    self._held() + len(self._waiting),
                    len(self._acks) + len(self._waiting),
                )
            log.warning(
                "stopping without storing %d records: the store did not take them within %g s; "
                "their %d messages stay unacknowledged and the broker sends them again",
                held,
                grace_s,
                waiting,
            )
        self.client.disconnect()  # after the acknowledgements already queued
        self.client.loop_stop()
        self.dead_letter.close()
        log.info("collector stopped: %s", self.metrics.summary())
        return drained

    def abort(self) -> None:
        """Leave without storing or acknowledging anything more (a worker died)."""
        with self._cond:
            self._stopping = True
            self._conn += 1  # nothing more is acknowledged
            self._cond.notify_all()
        self.client.disconnect()
        self.client.loop_stop()

    def failure(self) -> str | None:
        """Why this collector cannot go on (a worker thread died), or None."""
        if self._fatal is not None:
            return f"the writer thread died: {self._fatal!r}"
        writer = self._writer
        if writer.ident is not None and not writer.is_alive() and not self._stopped.is_set():
            return "the writer thread ended"
        net = getattr(self.client, "_thread", None)
        with self._cond:
            deliberate = self._paused or self._stopping
        if net is not None and not net.is_alive() and not deliberate:
            return "paho's network thread ended"
        return None

    def health(self) -> tuple[bool, str]:
        """(healthy, why): unhealthy when records wait but nothing was stored for
        `stall_after_s`, when the broker subscription is lost, or when a worker died."""
        why = self.failure()
        if why:
            return False, why
        with self._cond:
            idle = time.monotonic() - self._last_progress
            held, paused, stopping = self._held() + len(self._waiting), self._paused, self._stopping
        if idle > self.stall_after_s:
            return False, f"nothing stored for {idle:.0f} s while {held} records wait"
        if stopping:
            return False, "stopping"
        if paused:
            return True, f"buffer full ({held} records): intake paused, the broker keeps the rest"
        if self.metrics.value("shopfloor_collector_subscribed") != 1:
            return False, f"not subscribed to {self.url} (connecting, or the broker was lost)"
        return True, f"subscribed, {held} records buffered"

    def _held(self) -> int:
        return len(self._buf) + len(self._writing)

    def _room(self, msg: mqtt.MQTTMessage) -> int:
        """The most records one message can add: a batch's elements each as many as a single
        message (issue 15, shopfloor/batch.py); a birth one more for each legacy sample that
        waited for it (collector/legacy.py); a Sparkplug NDEATH one for each device of its
        node. Never more than the whole buffer: a message larger than it is taken alone, once
        the buffer is empty."""
        topic = msg.topic
        if topic.startswith(SPB_PREFIX):
            t = spb.parse_topic(topic)
            if t is not None and t.msg_type == "NDEATH":
                n = len(self.sparkplug.devices.get((t.group, t.node), ()))
            elif t is not None and t.msg_type == "DBIRTH" and t.device is not None:
                n = 1 + len(self.power_states.awaiting.get(t.device, ()))
            else:
                n = MAX_RECORDS_PER_MESSAGE
        elif topic.endswith("/status"):
            n = 1 + len(self.power_states.awaiting.get(topic.rsplit("/", 2)[-2], ()))
        else:
            n = MAX_RECORDS_PER_MESSAGE * max(1, batch_form.max_elements(msg.payload))
        return max(1, min(n, self.buffer_limit))

    # -- network thread --------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        try:
            if reason.is_failure:
                log.error("broker %s refused the connection: %s", self.url, reason)
                return
            topics = [self.topic] + ([self.spb_topic] if self.spb_topic else [])
            client.subscribe([(t, 1) for t in topics])
            log.info("connected to %s, subscribing to %s", self.url, " and ".join(topics))
        except Exception:
            log.exception("on_connect failed")

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        try:
            if all(not r.is_failure for r in reasons):
                self.metrics.subscribed.set(1)
            else:
                log.error(
                    "broker %s refused the subscription to %s: %s", self.url, self.topic, reasons
                )
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        try:
            with self._cond:
                # What arrived on that connection can no longer be acknowledged: the broker
                # sends it again on the next one.
                self._conn += 1
                deliberate = self._paused or self._stopping
            self.metrics.subscribed.set(0)
            if not deliberate:
                self.metrics.disconnects.inc()
                log.warning("lost the broker %s (%s); reconnecting", self.url, reason)
        except Exception:
            log.exception("on_disconnect failed")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("broker %s unreachable; retrying with backoff", self.url)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        conn = self._conn
        try:
            with self._intake:
                with self._cond:
                    if self._stopping or self._paused:
                        return  # not taken, not acknowledged: the broker sends it again
                    if self._waiting or self._held() + self._room(msg) > self.buffer_limit:
                        # No room: held as it came (unacknowledged, so a broker's inflight
                        # window stops sending), taken in order once the writer makes room.
                        if len(self._waiting) >= self.max_waiting:
                            self._pause()  # a broker without an inflight window
                            return
                        self._waiting.append((msg, conn))
                        self.metrics.waiting.set(len(self._waiting))
                        return
                self._handle(msg, conn)
        except BaseException as exc:  # nothing may escape into paho's network thread
            self._internal_error(msg, exc, conn)

    def _take_waiting(self) -> None:
        """In the writer thread, once it has made room: handle the messages held unhandled."""
        with self._intake:
            while True:
                with self._cond:
                    if not self._waiting or (
                        self._held() + self._room(self._waiting[0][0]) > self.buffer_limit
                    ):
                        return
                    msg, conn = self._waiting.popleft()
                    self.metrics.waiting.set(len(self._waiting))
                try:
                    self._handle(msg, conn)
                except BaseException as exc:
                    self._internal_error(msg, exc, conn)

    def _handle(self, msg: mqtt.MQTTMessage, conn: int) -> None:
        """Validate, deduplicate, buffer (the caller holds the intake lock and checked that
        the records fit). A message from an earlier connection is still stored (a broker that
        keeps no session will not send it again) but no longer acknowledged."""
        self.metrics.received.inc()
        raw = bytes(msg.payload)
        if msg.topic.startswith(SPB_PREFIX):
            got: Any = self.sparkplug.validate(
                msg.topic, raw, clock.now_ms(), self.max_future_ms, self.max_bytes
            )
        else:
            got = validate(msg.topic, raw, clock.now_ms(), self.max_future_ms, self.max_bytes)
        records: list[Record] = []
        # A Sparkplug NDEATH is every device of its edge node: several records of one message.
        for one in got if isinstance(got, list) else [got]:
            if isinstance(one, Reject):
                # A batch's bad element is dead-lettered alone (shopfloor/batch.py).
                self._reject(msg.topic, raw if one.raw is None else one.raw, one.reason, one.detail)
            elif isinstance(one, Ignore):
                self.metrics.ignored.inc()
            elif (
                self.machines is not None and (one.area, one.line, one.machine) not in self.machines
            ):
                self._reject(
                    msg.topic,
                    raw,
                    "unknown_machine",
                    f"no machine {one.machine!r} on line {one.line!r} in area {one.area!r} in the plant config",
                )
            else:
                records += self._accept(one, msg.retain, msg.topic, raw)
        with self._cond:
            if msg.qos > 0:
                self._acks.append(_Ack(msg.mid, msg.qos, not records, conn))
            if records:
                self._buf.extend(records)
                held = self._held()
                self.metrics.buffered.set(held)
                if held > self._peak:
                    self._peak = held
                    self.metrics.buffered_peak.set(held)
                if len(self._buf) >= self.batch_max:
                    self._cond.notify_all()

    def _ask_rebirth(self, group: str, node: str) -> None:
        """A DDATA alias no birth named: ask the edge node for its births (what any Sparkplug
        host does); fire and forget, the next DBIRTH teaches the aliases."""
        log.warning(
            "unknown Sparkplug alias from edge node %s/%s: asking it to rebirth", group, node
        )
        self.client.publish(
            spb.topic(group, "NCMD", node), spb.rebirth_request(clock.now_ms()), qos=0
        )

    def _pause(self) -> None:
        """Buffer full and `max_waiting` messages held unhandled: the broker sends on without
        an inflight window. Disconnect (the caller holds the lock), keeping the session; what
        arrives meanwhile is not taken (a broker that keeps sessions, as Mosquitto does, sends
        it again; one that keeps none, as the embedded amqtt, loses it)."""
        if self._paused:
            return
        self._paused = True
        self.metrics.paused.set(1)
        log.warning(
            "buffer full (%d records of %d, %d messages waiting): intake paused until the store "
            "catches up; the broker keeps the rest",
            self._held(),
            self.buffer_limit,
            len(self._waiting),
        )
        self.client.disconnect()

    def _resume(self) -> None:
        """In the writer thread: reconnect once the buffer has drained to half."""
        with self._cond:
            if (
                not self._paused
                or self._stopping
                or self._waiting
                or self._held() > self.buffer_limit // 2
            ):
                return
        self.client.loop_stop()  # the network thread ends after the DISCONNECT
        with self._cond:
            if self._stopping:
                return
            self._paused = False
        self.metrics.paused.set(0)
        log.info("buffer drained: resuming intake")
        self.client.connect_async(self.url.host, self.url.port, keepalive=self.keepalive)
        self.client.loop_start()

    def _reject(self, topic: str, raw: bytes, reason: str, detail: str) -> None:
        self.dead_letter.write(topic, raw, reason, detail)
        self.metrics.rejected.labels(reason).inc()

    def _internal_error(self, msg: mqtt.MQTTMessage, exc: BaseException, conn: int) -> None:
        """A message whose handling raised: dead letter, counter, acknowledgement; the traceback
        is logged once per place it was raised from."""
        try:
            self.metrics.internal_errors.inc()
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{type(exc).__name__}@{tb[-1].filename}:{tb[-1].lineno}" if tb else repr(exc)
            if where not in self._logged:
                self._logged.add(where)
                log.error(
                    "handling a message on %s raised (dead-lettered as 'internal'; further "
                    "errors from the same place are counted, not logged):",
                    msg.topic,
                    exc_info=exc,
                )
            try:
                self._reject(
                    msg.topic, bytes(msg.payload), "internal", f"{type(exc).__name__}: {exc}"[:500]
                )
            except Exception as dl_exc:
                log.error("could not dead-letter a message on %s: %r", msg.topic, dl_exc)
            with self._cond:
                if msg.qos > 0:
                    self._acks.append(_Ack(msg.mid, msg.qos, True, conn))
                self._cond.notify_all()
        except BaseException:
            log.critical("the message error handler failed", exc_info=True)

    def _accept(self, rec: Record, retained: bool, topic: str, raw: bytes) -> list[Record]:
        """The records to store for one valid message (none for a duplicate; a quarantined
        seq goes to the dead letters), with the seq bookkeeping (collector/seqtrack.py)."""
        if rec.channel == "status":
            waited: list[Record] = []
            if rec.payload.get("online"):
                self.seqs.restart(rec.machine)
                if rec.payload.get("connectivity") == "legacy" and rec.payload.get("power_kw"):
                    # Cycles of samples that came before the birth (a restart's), if any.
                    waited = self.power_states.learn(
                        rec.machine,
                        rec.payload["power_kw"],
                        rec.payload.get("sample_interval_s"),
                        rec.payload.get("meter"),
                    )
                    if self.topic.startswith("$share/") and "legacy:shared" not in self._logged:
                        self._logged.add("legacy:shared")
                        log.warning(
                            "legacy machine %s behind a shared subscription: its states and "
                            "estimated energy need all of its samples, and this member gets "
                            "only some (run one collector for a plant with legacy machines)",
                            rec.machine,
                        )
            return [rec, *waited]
        if retained:
            # The broker's copy of a machine's last state, sent on every (re)subscribe: old
            # news, stored idempotently, but not a sign of order, duplicates or gaps. A seq
            # far ahead is still kept out: stored, it would become the next start's max_seq.
            if rec.seq is not None and self.seqs.implausible(rec.machine, rec.seq, _clock_ts(rec)):
                self._quarantine(rec, topic, raw)
                return []
            return [rec]
        if rec.seq is not None:
            verdict = self.seqs.classify(rec.machine, rec.seq, _clock_ts(rec))
            if verdict == "duplicate":
                self.metrics.duplicate(rec.machine)
                return []
            if verdict == "quarantine":
                self._quarantine(rec, topic, raw)
                return []
        self.metrics.set_gaps(rec.machine, self.seqs.gaps(rec.machine))
        out = [rec]
        if rec.channel == "telemetry" and self.power_states.is_legacy(rec.machine):
            out += self.power_states.infer(rec)
        return out

    def _quarantine(self, rec: Record, topic: str, raw: bytes) -> None:
        top = self.seqs.highest.get(rec.machine)
        self._reject(
            topic,
            raw,
            "seq_quarantine",
            f"seq {rec.seq} is more than {self.seqs.max_jump} above {rec.machine}'s highest "
            f"({top}) and its ts {rec.ts} leaves no time for the seqs between: not taken as "
            "the new highest",
        )

    # -- writer thread -----------------------------------------------------------------------

    def _write_main(self) -> None:
        try:
            self._write_loop()
        except BaseException as exc:
            self._fatal = exc
            log.critical(
                "the writer thread died; exiting so a supervisor restarts the collector",
                exc_info=exc,
            )
            self.on_fatal(exc)

    def _write_loop(self) -> None:
        backoff = 0.5
        retrying = False
        while True:
            with self._cond:
                if not self._buf and not self._acks_ready():
                    if self._stopping and not self._acks and not self._waiting:
                        break
                    self._last_progress = time.monotonic()  # nothing waits: not a stall
                    self._cond.wait(self.flush_s)
                batch = self._writing = self._buf
                self._buf = []
                # How many received messages this batch completes (their records are all in it).
                n_acks = len(self._acks)
            if batch:
                t0 = time.perf_counter()
                try:
                    n_stored, refused = self._store(batch)
                except StoreError as exc:
                    self.metrics.write_errors.inc()
                    self.metrics.store_retrying.set(1)
                    retrying = True
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
                        self._cond.wait(backoff)  # stop() cuts the wait short
                    backoff = min(backoff * 2, 10.0)
                    continue
                if retrying:
                    log.info("the store takes writes again")
                    retrying = False
                    self.metrics.store_retrying.set(0)
                backoff = 0.5
                self.metrics.write_seconds.observe(time.perf_counter() - t0)
                self.metrics.stored.inc(n_stored)
                for rec, why in refused:
                    self._dead_letter_record(rec, why)
            with self._cond:
                self._writing = []
                for i in range(min(n_acks, len(self._acks))):
                    self._acks[i].done = True
                while self._acks and self._acks[0].done:
                    a = self._acks.popleft()
                    if a.conn == self._conn:
                        # Under the lock: a reconnect cannot slip in between check and send.
                        self.client.ack(a.mid, a.qos)
                self._last_progress = time.monotonic()
                self.metrics.buffered.set(self._held())
                self._cond.notify_all()
            # Stored and acknowledged: tell the publishers (collector/watermark.py).
            watermark.after_write(self, batch, self._conn)
            self._take_waiting()
            self._resume()
            now = time.monotonic()
            if now - self._last_log > 30:
                self._last_log = now
                log.info("collector: %s", self.metrics.summary())
        self._stopped.set()

    def _store(self, batch: list[Record]) -> tuple[int, list[tuple[Record, str]]]:
        """Write `batch`; on a permanent error split it in halves until the records the store
        refuses are alone. Returns (records stored, [(refused record, the store's message)]).
        A transient StoreError propagates: the caller retries the whole batch (idempotent)."""
        seed_failed = None
        if not self._legacy_seeded:
            try:
                self._seed_late()
            except StoreError as exc:
                seed_failed = exc  # the write below tells a store that is down from one...
        try:
            self.store.write(batch)
            if seed_failed is not None:
                # ...that takes writes but answers no reads (VictoriaMetrics): the meters go
                # on from 0 there, as they would without this seed; never block writes on it.
                self._legacy_seeded = True
                log.warning(
                    "legacy machines' estimated meters start at 0: the store takes writes but "
                    "its newest readings could not be read (%s)",
                    seed_failed,
                )
            return len(batch), []
        except PermanentStoreError as exc:
            why = str(exc)
        except StoreError:
            raise
        except Exception as exc:
            # Not a StoreError: a store bug that this data triggers. Treated like a refused
            # record, so that one record cannot stall the pipeline; logged once.
            why = f"{type(exc).__name__}: {exc}"
            key = f"store:{type(exc).__name__}"
            if key not in self._logged:
                self._logged.add(key)
                log.error(
                    "the store raised %s (not a StoreError)", type(exc).__name__, exc_info=exc
                )
        if len(batch) == 1:
            return 0, [(batch[0], why)]
        half = len(batch) // 2
        n1, bad1 = self._store(batch[:half])
        n2, bad2 = self._store(batch[half:])
        return n1 + n2, bad1 + bad2

    def _dead_letter_record(self, rec: Record, why: str) -> None:
        topic = contract.topic(
            rec.enterprise, rec.site, rec.area, rec.line, rec.machine, rec.channel
        )
        raw = json.dumps(rec.payload, default=repr).encode()
        detail = f"{why[:500]}{' (derived from a legacy power sample)' if rec.inferred else ''}"
        log.warning("the store refused a record of %s: %s", topic, why[:300])
        try:
            self._reject(topic, raw, "store_rejected", detail)
        except Exception as exc:
            log.error("could not dead-letter a record of %s: %r", topic, exc)

    def _acks_ready(self) -> bool:
        return bool(self._acks) and self._acks[0].done
