"""History at the speed of the store (issue 15): simulated messages straight into a store.

`shopfloor sim --fast --store URL` hands every message the plant emits to a StoreSink instead
of a broker. The sink does to each one what the collector does to a message it receives
(docs/architecture.md, "Which way data flows"), minus MQTT:

- validation: `collector.validate.check`, the one function every encoding goes through (the
  contract's payload models; the same future-ts window as the collector's default);
- sequence bookkeeping: a `collector.seqtrack.SeqTracker` seeded from the store's `max_seq()`,
  so a bulk run over stored data drops what is already there as the collector would;
- legacy machines: a `collector.legacy.PowerStates` with the plant's shift calendar, fed the
  births and samples in emission order, so the inferred states, estimated meters and counted
  cycles are exactly the collector's (seeded from the store like the collector's);
- the store's own `write()` in large batches, which keeps the hour and quarter rollups as it
  goes: the dashboard can read the store as soon as the run ends.

It lives in the kernel's CLI layer because it wires two rooms (the simulator's sink protocol
and the collector's validation and inference), which never import each other.

Batches are written by one writer thread while the simulation goes on: SQLite and the HTTP
clients release the GIL while they work, so the two overlap on a second core. The queue
between them is short (two batches), so a slow store slows the simulation instead of memory
growing without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from typing import Any

from collector.legacy import PowerStates
from collector.seqtrack import SeqTracker
from collector.validate import Reject, check
from shopfloor import clock
from shopfloor.contract import WATERMARK_CHANNEL, TopicParts, parse_topic
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import PermanentStoreError, Record, Store, StoreError
from shopfloor.store.rollup import END_OF_TIME_MS

log = logging.getLogger("shopfloor.bulk")

BATCH = 50_000  # records per write(): one transaction (SQLite) or a few requests (InfluxDB)
MAX_FUTURE_MS = 24 * 3600 * 1000  # the collector's default --max-future
RETRIES = 8  # transient store errors (a locked file, a 5xx) before the run gives up


class BulkError(RuntimeError):
    """The store could not take the history (down for longer than the retries)."""


def seed_legacy(store: Store, power_states: PowerStates, seqs: SeqTracker) -> None:
    """What a starting collector reads from the store (collector/service.py, Collector and
    _seed_legacy): each machine's highest seq and its ts, and each legacy machine's power
    bands, newest inferred state, estimated meter and counted cycles, so the bulk path goes
    on from stored data exactly as a restarted collector would."""
    seqs.highest.update(store.max_seq())
    legacy = []
    for m in store.machines():
        if m.last_ts:
            seqs.highest_ts[m.machine] = m.last_ts
        if m.connectivity == "legacy" and m.power_kw:
            power_states.learn(m.machine, m.power_kw)
            legacy.append(m.machine)
    if not legacy:
        return
    newest = store.last_changes(END_OF_TIME_MS)
    for m in legacy:
        count = store.counter_at("count", END_OF_TIME_MS, m).get(m)
        if count is not None:
            power_states.counted[m] = int(count[1]["total"])
        reading = store.counter_at("energy", END_OF_TIME_MS, m).get(m)
        state = newest.get(m, (0, None, ""))[1]
        if reading is None:
            if state is not None:
                power_states.current[m] = state
            continue
        ts, value = reading
        at = store.samples(m, ts, ts + 1)
        power_states.seed(m, ts, float(value["energy_kwh"]), at[-1][1] if at else None, state)


class StoreSink:
    """A simulator sink (simulator/sinks.py) that validates each message as the collector does
    and writes it to `store` in batches of `batch` records."""

    def __init__(
        self,
        store: Store,
        calendar: ShiftCalendar | None = None,
        *,
        batch: int = BATCH,
        max_future_ms: int = MAX_FUTURE_MS,
        seed_from_store: bool = True,
        close_store: bool = False,
    ) -> None:
        self.store = store
        self.close_store = close_store
        self.batch = batch
        self.max_future_ms = max_future_ms
        self.power_states = PowerStates(calendar)
        self.seqs = SeqTracker()
        if seed_from_store:
            seed_legacy(store, self.power_states, self.seqs)
        self.count = 0  # messages emitted (what `shopfloor sim` reports)
        self.stored = 0  # records written, derived ones included
        self.rejected: Counter[str] = Counter()
        self.duplicates = 0
        self._topics: dict[str, TopicParts | None] = {}
        self._buf: list[Record] = []
        # "now" for the future-ts check, read once per batch: the environment lookup behind
        # clock.now_ms() was a tenth of a message's cost, and a batch takes well under a second.
        self._now_ms = clock.now_ms()
        self._q: queue.Queue[list[Record] | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._stopping = False
        self.write_s = 0.0  # time the writer spent in store.write()
        self._bulk_load = getattr(store, "bulk_load", None)  # SQLite's settings for a bulk load
        if self._bulk_load is not None:
            self._bulk_load(True)
        self._writer = threading.Thread(target=self._write_main, name="bulk-writer", daemon=True)
        self._writer.start()

    # -- the simulation thread ---------------------------------------------------------------

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.count += 1
        parts = self._topics.get(topic)
        if parts is None:
            parts = parse_topic(topic)
            self._topics[topic] = parts
        if parts is None or parts.channel in ("cmd", WATERMARK_CHANNEL):
            self.rejected["bad_topic" if parts is None else "ignored"] += 1
            return
        rec = check(parts, payload, self._now_ms, self.max_future_ms)
        if isinstance(rec, Reject):
            self.rejected[rec.reason] += 1
            if sum(self.rejected.values()) == 1:
                log.warning("a message on %s was refused: %s: %s", topic, rec.reason, rec.detail)
            return
        m, seq = rec.machine, rec.seq
        seqs = self.seqs
        if (
            seq is not None
            and seqs.highest.get(m, -2) == seq - 1
            and (rec.channel != "telemetry" or not self.power_states.is_legacy(m))
        ):
            # Nearly every simulated message: the machine's next seq, nothing to infer. What
            # _accept() would do (classify() records "new": no gap, nothing implausible), inline.
            seqs.highest[m] = seq
            ts = rec.ts
            seqs.highest_ts[m] = ts if ts < self._now_ms else self._now_ms
            self._buf.append(rec)
        else:
            self._buf += self._accept(rec)
        if len(self._buf) >= self.batch:
            self._hand_over()

    def _accept(self, rec: Record) -> list[Record]:
        """collector/service.py's Collector._accept for a message that is not retained (a live
        subscriber never sees the retain flag set on what is published while it listens)."""
        if rec.channel == "status":
            p = rec.payload
            waited: list[Record] = []
            if p.get("online"):
                self.seqs.restart(rec.machine)
                if p.get("connectivity") == "legacy" and p.get("power_kw"):
                    # The counted cycles of samples that came before the birth, as the
                    # collector stores them (collector/service.py, Collector._accept).
                    waited = self.power_states.learn(
                        rec.machine, p["power_kw"], p.get("sample_interval_s"), p.get("meter")
                    )
            return [rec, *waited]
        if rec.seq is not None:
            verdict = self.seqs.classify(rec.machine, rec.seq, min(rec.ts, self._now_ms))
            if verdict == "duplicate":
                self.duplicates += 1
                return []
            if verdict == "quarantine":
                self.rejected["seq_quarantine"] += 1
                return []
        if rec.channel == "telemetry" and self.power_states.is_legacy(rec.machine):
            return [rec, *self.power_states.infer(rec)]
        return [rec]

    def _hand_over(self) -> None:
        batch, self._buf = self._buf, []
        self._now_ms = clock.now_ms()
        while True:
            if self._error is not None:
                raise BulkError(f"writing to {self.store.url}: {self._error}") from self._error
            try:
                self._q.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def stop_waiting(self) -> None:
        """A stop signal (simulator.run): what is not yet being written is dropped, so the run
        ends within one batch's write. What was written is a prefix of the stream in emission
        order, so each machine's stored seq has no hole and a next run goes on from it."""
        self._stopping = True

    def close(self) -> None:
        """Write what is held and wait for the writer; raises BulkError if the store failed."""
        if self._stopping:
            self._buf = []
            while True:
                try:
                    self._q.get_nowait()
                except queue.Empty:
                    break
        if self._buf:
            self._hand_over()
        self._q.put(None)
        self._writer.join()
        if self._bulk_load is not None:
            self._bulk_load(False)
        if self.close_store:
            self.store.close()
        if self._error is not None:
            raise BulkError(f"writing to {self.store.url}: {self._error}") from self._error

    def report_bulk(self) -> None:
        """Log what became of the messages (`shopfloor sim` calls it at the end)."""
        log.info(
            "bulk: %d messages, %d records stored in %s (%.1f s writing)%s%s",
            self.count,
            self.stored,
            self.store.url,
            self.write_s,
            f"; {self.duplicates} already stored (duplicates)" if self.duplicates else "",
            f"; refused: {dict(self.rejected)}" if self.rejected else "",
        )

    def gaps(self) -> int:
        """Seqs skipped, over every machine (0 for a simulator's contiguous stream)."""
        return sum(self.seqs.gaps(m) for m in self.seqs.highest)

    # -- the writer thread -------------------------------------------------------------------

    def _write_main(self) -> None:
        try:
            while True:
                batch = self._q.get()
                if batch is None:
                    return
                t0 = time.perf_counter()
                self._write(batch)
                self.write_s += time.perf_counter() - t0
        except BaseException as exc:
            self._error = exc
            # Drain so a simulation thread waiting to hand over a batch sees the error.
            while True:
                try:
                    if self._q.get_nowait() is None:
                        return
                except queue.Empty:
                    time.sleep(0.05)

    def _write(self, batch: list[Record]) -> None:
        backoff = 0.5
        for attempt in range(RETRIES + 1):
            try:
                self._store(batch)
                return
            except PermanentStoreError:
                raise
            except StoreError as exc:
                if attempt == RETRIES:
                    raise
                log.warning("store write failed (%s); retrying in %.1f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _store(self, batch: list[Record]) -> None:
        """As the collector's writer: a record the store can never take is found by halving
        the batch, counted as refused ("store_rejected") and left out; the rest is stored."""
        try:
            self.store.write(batch)
            self.stored += len(batch)
            return
        except PermanentStoreError as exc:
            if len(batch) == 1:
                self.rejected["store_rejected"] += 1
                log.warning("the store refused a record of %s: %s", batch[0].machine, exc)
                return
        half = len(batch) // 2
        self._store(batch[:half])
        self._store(batch[half:])
