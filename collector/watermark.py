"""The collector's watermarks: what it has durably stored, told back to the publisher.

A broker that is killed loses what it acknowledged to the simulator but had not yet handed to
the collector (Mosquitto saves its queues only every `autosave_interval`). No broker setting
closes that hole; an end-to-end acknowledgement does (issue 14, "Nothing the broker
acknowledged is lost when the broker crashes"):

- After each successful store write (and its acknowledgements to the broker), the collector's
  writer calls `after_write(collector, batch, conn)`. Per machine it keeps the highest
  *contiguous* seq stored: every seq up to it is stored (or refused by the store for good, which
  a resend would not change), and the seqs stored above a hole are remembered until the hole
  is filled. A hole therefore holds the watermark back: it says "send again from the hole".
- Each machine's watermark is published retained at QoS 1 on
  `shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/stored` as
  `{"seq": <highest contiguous seq stored>, "run": <this collector process>}`
  (shopfloor.contract.WatermarkPayload), when it moved, at most every `interval_s` per machine,
  and all of them again once the broker has confirmed the subscription after every
  (re)connect: a crashed broker may have lost the retained copies, and a simulator that
  reconnected waits for a watermark, which then also says that the collector is subscribed
  again, before it sends its outbox again (simulator/mqtt_sink.py). The simulator keeps what
  it published until a watermark covers it (simulator/outbox.py).
- Where a machine starts: the store's max_seq when the writer first runs (before this
  collector has stored anything, the same assumption SeqTracker makes: what the store holds is
  taken as contiguous), published at the first connection for every machine the store knows;
  a machine the store does not know starts at its first stored seq.
- A hole that `max_above` later seqs have been stored above is given up (the publisher no
  longer has it: its outbox dropped it, or it never sent it): logged, and the watermark moves
  past it, so one lost message cannot hold a machine's watermark, and the publisher's outbox,
  back for good. SeqTracker still counts it as a gap.
- Not published for a shared subscription ($share/...): each member stores only a part of
  each machine's messages, so none of them knows a contiguous watermark.
"""

from __future__ import annotations

import logging
import secrets
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from shopfloor import contract
from shopfloor.store.base import Record, StoreError

log = logging.getLogger("shopfloor.collect")
INTERVAL_S = 0.5  # at most one watermark per machine per this many seconds
MAX_ABOVE = 20_000  # seqs stored above a hole before the hole is given up


@dataclass(slots=True)
class _Mark:
    topic: str
    seq: int  # highest contiguous seq stored
    above: set[int] = field(default_factory=set)  # stored seqs above a hole
    published: int | None = None
    at: float = float("-inf")  # monotonic time of the last publish


class Watermarks:
    """Per machine, the highest contiguous seq stored, and its publication (see module doc)."""

    def __init__(
        self,
        client: Any,
        known: dict[str, int] | None = None,
        *,
        topics: dict[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        run: str | None = None,
        interval_s: float = INTERVAL_S,
        max_above: int = MAX_ABOVE,
    ):
        """`client`: a paho client (publish); `known`: each machine's highest seq already
        stored (taken as contiguous); `topics`: the watermark topics of machines known before
        any record of them is stored (those with a known seq are published from the start);
        `ready`: True while watermarks may go out, i.e. the broker confirmed the subscription
        (default: the client is connected)."""
        self.client = client
        self.ready = ready or client.is_connected
        self.known = dict(known or {})
        self.run = run or secrets.token_hex(6)
        self.interval_s = interval_s
        self.max_above = max(1, max_above)
        self.marks: dict[str, _Mark] = {
            m: _Mark(topic, self.known[m]) for m, topic in (topics or {}).items() if m in self.known
        }
        self.given_up = 0  # holes given up (seqs never stored)
        self.published = 0
        self._conn: int | None = None

    def stored(self, records: Iterable[Record]) -> None:
        """Take note of records the store now holds durably."""
        for rec in records:
            s = rec.seq
            if s is None:
                continue
            mark = self.marks.get(rec.machine)
            if mark is None:
                topic = contract.watermark_topic(
                    rec.enterprise, rec.site, rec.area, rec.line, rec.machine
                )
                mark = self.marks[rec.machine] = _Mark(topic, self.known.get(rec.machine, s - 1))
            if s <= mark.seq:
                continue
            if s == mark.seq + 1:
                mark.seq = s
                self._absorb(mark)
            else:
                mark.above.add(s)
                if len(mark.above) > self.max_above:
                    self._give_up(rec.machine, mark)

    def _absorb(self, mark: _Mark) -> None:
        above = mark.above
        while above and mark.seq + 1 in above:
            mark.seq += 1
            above.discard(mark.seq)

    def _give_up(self, machine: str, mark: _Mark) -> None:
        first = min(mark.above)
        lost = first - mark.seq - 1
        self.given_up += lost
        log.warning(
            "watermark of %s: seqs %d-%d never arrived while %d later ones were stored; "
            "giving them up (the publisher no longer has them)",
            machine,
            mark.seq + 1,
            first - 1,
            len(mark.above),
        )
        mark.seq = first
        mark.above.discard(first)
        self._absorb(mark)

    def publish(self, conn: int, now: float | None = None) -> int:
        """Publish the watermarks that moved (throttled per machine), or all of them after a
        reconnect (`conn` changed). Returns how many were published."""
        now = time.monotonic() if now is None else now
        again = conn != self._conn
        due = [
            m
            for m in self.marks.values()
            if again or (m.seq != m.published and now - m.at >= self.interval_s)
        ]
        if not (due or again) or not self.ready():
            return 0
        self._conn = conn
        n = failed = 0
        for mark in due:
            payload = orjson.dumps({"seq": mark.seq, "run": self.run})
            if self.client.publish(mark.topic, payload, qos=1, retain=True).rc != 0:
                failed += 1  # the connection went: all of them again after the reconnect
                continue
            mark.published, mark.at = mark.seq, now
            n += 1
        if failed:
            self._conn = None
        self.published += n
        return n

    def watermark(self, machine: str) -> int | None:
        mark = self.marks.get(machine)
        return None if mark is None else mark.seq


# One Watermarks per collector (None: it publishes none), made on the writer's first pass.
_BY_COLLECTOR: weakref.WeakKeyDictionary[Any, Watermarks | None] = weakref.WeakKeyDictionary()


def after_write(collector: Any, batch: list[Record], conn: int) -> None:
    """The writer's hook (collector/service.py), called after each pass that stored `batch`
    (possibly empty) and sent its acknowledgements: note what is now stored and publish the
    watermarks that are due. `conn` is the collector's connection number, which changes on
    every lost connection. Never raises: a watermark is an optimisation of the publisher's
    memory, never a reason to stop storing."""
    try:
        if collector in _BY_COLLECTOR:
            marks = _BY_COLLECTOR[collector]
        else:
            marks = _BY_COLLECTOR[collector] = _start(collector)
        if marks is None:
            return
        if batch:
            marks.stored(batch)
        marks.publish(conn)
    except Exception:
        log.exception("publishing watermarks failed (storing goes on)")


def _start(collector: Any) -> Watermarks | None:
    if str(collector.topic).startswith("$share/"):
        log.info("shared subscription: no watermarks published (each member stores a part)")
        return None
    known: dict[str, int] = {}
    topics: dict[str, str] = {}
    try:
        known = collector.store.max_seq()
        configured = collector.machines  # (area, line, machine) of the plant config, or None
        for m in collector.store.machines():
            if configured is not None and (m.area, m.line, m.machine) not in configured:
                continue
            topics[m.machine] = contract.watermark_topic(
                m.enterprise, m.site, m.area, m.line, m.machine
            )
    except StoreError as exc:
        log.warning("watermarks start from the first stored seq of each machine (%s)", exc)
    client, metrics = collector.client, collector.metrics

    def ready() -> bool:
        # Subscribed (SUBACK), not merely connected: a watermark tells a waiting simulator that
        # what it sends now reaches this collector.
        return bool(client.is_connected()) and metrics.value("shopfloor_collector_subscribed") == 1

    return Watermarks(client, known, topics=topics, ready=ready)
