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

Batches are written while the simulation goes on. Into SQLite, by a writer PROCESS: the
simulating process builds each batch's rows (sqlite.rows_of) and sends them, pickled, over a
pipe; the writer inserts them through the store's write_rows (the same transaction, rollups
and errors as write()). A thread could not do that beside the simulation: its Python work
(the rollups, binding the parameters) holds the GIL. Into the other stores (HTTP clients,
which release the GIL while they wait), by a writer thread. Either way at most two batches
wait between them, so a slow store slows the simulation instead of memory growing without
bound. A writer process that dies ends the run with BulkError; it ends itself when the pipe
closes (the simulating process gone), so none is left behind.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from collector.fastcheck import FAST, telemetry_values
from collector.legacy import PowerStates
from collector.seqtrack import SeqTracker
from collector.validate import Reject, check
from shopfloor import clock
from shopfloor.contract import STATE_CODE, WATERMARK_CHANNEL, TopicParts, parse_topic
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import PermanentStoreError, Record, Store, StoreError
from shopfloor.store.rollup import END_OF_TIME_MS

log = logging.getLogger("shopfloor.bulk")

BATCH = 50_000  # records per write() by a writer thread: a few requests (InfluxDB)
# Records per transaction of SQLite's writer process: each commit writes every machine's
# newest, part-filled page of each table again, so twice the rows a commit cost its writer
# about 13% less CPU (issue 15, bench/README.md); four times, no less than twice.
PROCESS_BATCH = 100_000
SIM_GC_THRESHOLD = 50_000  # new containers between young collections in the simulating process
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
    and writes it to `store` in batches of `batch` records (by default BATCH, PROCESS_BATCH
    into SQLite's writer process)."""

    def __init__(
        self,
        store: Store,
        calendar: ShiftCalendar | None = None,
        *,
        batch: int | None = None,
        max_future_ms: int = MAX_FUTURE_MS,
        seed_from_store: bool = True,
        close_store: bool = False,
        writer_process: bool | None = None,
    ) -> None:
        """writer_process: write in a process of its own (WriterProcess); by default for a
        store that takes rows built elsewhere (SQLite's write_rows)."""
        self.store = store
        self.close_store = close_store
        self.batch = batch or BATCH
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
        self._proc: WriterProcess | None = None
        # The writer process's batch: its rows, built as the messages come (sqlite.RowBuilder).
        self._rows: Any = None
        self._held = 0  # records in it
        # Samples taken without a Record, in three columns (sqlite.sample_rows): machine, the
        # payload's keys and values (telemetry_values). Columns: marshal writes and reads them
        # for less than tuples of the three, and no tuple is made per message.
        self._sample_m: list[str] = []
        self._sample_k: list[tuple[str, ...]] = []
        self._sample_v: list[tuple[Any, ...]] = []
        # emit's shortcut: topic -> (machine, channel) of the channels it takes, machine ->
        # its topic's levels (for the machines table), and the state it reads, bound once.
        self._route: dict[str, tuple[str, str]] = {}
        self._parts: dict[str, TopicParts] = {}
        self._highest = self.seqs.highest
        self._highest_ts = self.seqs.highest_ts
        self._legacy = self.power_states.bands
        self._limit_ms = self._now_ms + max_future_ms
        if writer_process is None:
            writer_process = getattr(store, "row_builder", None) is not None
        self._gc_threshold: tuple[int, int, int] | None = None
        if writer_process:
            self.batch = batch or PROCESS_BATCH
            # The batch in hand is some 100,000 tuples kept for a while: with the default
            # threshold (a collection every 700 new containers) a day of config/large.yaml
            # took 3,458 young and 20 full collections, 0.8 s of its 16 s (gc.callbacks);
            # every 50,000, 27 young and no full one, 0.5 s. Put back by close().
            self._gc_threshold = gc.get_threshold()
            gc.set_threshold(SIM_GC_THRESHOLD, *self._gc_threshold[1:])
            self._new_rows = store.row_builder
            self._rows = self._new_rows()
            self._proc = WriterProcess(store)
            return
        if self._bulk_load is not None:
            self._bulk_load(True)
        self._writer = threading.Thread(target=self._write_main, name="bulk-writer", daemon=True)
        self._writer.start()

    # -- the simulation thread ---------------------------------------------------------------

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.count += 1
        route = self._route.get(topic)
        if route is not None:
            # Into SQLite, most messages: a payload of the contract's plainest shape
            # (fastcheck), the machine's next seq, nothing to infer. Its row goes straight
            # into the batch, without a Record or a second pass: what check(), the seq
            # bookkeeping below and RowBuilder.add give (the writer process fills in the
            # machines' newest ts and a sample's process values, _complete).
            m, ch = route
            if ch == "telemetry":
                kv = telemetry_values(payload)
                if kv is not None:
                    v = kv[1]
                    ts = v[0]
                    seq = v[1]
                    if (
                        self._highest.get(m, -2) == seq - 1
                        and ts <= self._limit_ms
                        and m not in self._legacy
                    ):
                        self._highest[m] = seq
                        self._highest_ts[m] = ts if ts < self._now_ms else self._now_ms
                        # The payload's keys and values as they are: the writer process
                        # makes the row and the JSON (sqlite.bulk_rows), a batch at a time.
                        self._sample_m.append(m)
                        self._sample_k.append(kv[0])
                        self._sample_v.append(v)
                        self._held += 1
                        if self._held >= self.batch:
                            self._hand_over()
                        return
            elif self._fast_row(m, ch, payload):
                return
        parts = self._topics.get(topic)
        if parts is None:
            parts = parse_topic(topic)
            self._topics[topic] = parts
            if parts is not None and self._rows is not None and parts.channel in FAST:
                self._route[topic] = (parts.machine, parts.channel)
                self._parts[parts.machine] = parts
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
            accepted = [rec]
        else:
            accepted = self._accept(rec)
        if self._rows is None:
            self._buf += accepted
            if len(self._buf) >= self.batch:
                self._hand_over()
            return
        for r in accepted:
            try:
                self._rows.add(r)
                self._held += 1
            except PermanentStoreError as exc:
                self._proc.rejected["store_rejected"] += 1  # with the writer's (_sync)
                log.warning("the store refused a record of %s: %s", r.machine, exc)
        if self._held >= self.batch:
            self._hand_over()

    def _fast_row(self, m: str, ch: str, payload: Any) -> bool:
        """emit's shortcut for a state, count or energy message (see there); False: emit's
        general path decides."""
        if type(payload) is not dict:
            return False
        d = FAST[ch](payload)
        if d is None:
            return False
        ts, seq = d["ts"], d["seq"]
        if self._highest.get(m, -2) != seq - 1 or ts > self._limit_ms:
            return False
        self._highest[m] = seq
        self._highest_ts[m] = ts if ts < self._now_ms else self._now_ms
        b = self._rows
        if ch == "state":
            state = d["state"]
            b.states.append((m, ts, seq, state, STATE_CODE[state], d["reason"], 0))
        elif ch == "count":
            b.counts.append((m, ts, seq, d["total"], d["good"], d["scrap"]))
            if "ideal_s" in d:
                b.ideals.append((m, ts, seq, d["ideal_s"]))
        else:
            b.energy.append((m, ts, seq, d["energy_kwh"]))
        self._held += 1
        if self._held >= self.batch:
            self._hand_over()
        return True

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
        self._limit_ms = self._now_ms + self.max_future_ms
        if self._proc is not None:
            rows, self._rows, self._held = self._rows, self._new_rows(), 0
            samples = (self._sample_m, self._sample_k, self._sample_v)
            self._sample_m, self._sample_k, self._sample_v = [], [], []
            self._proc.send(rows, samples, self._parts)
            return
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
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        if self._proc is not None:
            try:
                if self._stopping:
                    self._rows, self._held = self._new_rows(), 0
                    self._sample_m, self._sample_k, self._sample_v = [], [], []
                elif self._held:
                    self._hand_over()
                self._proc.finish(drop=self._stopping)
            finally:
                self._proc.kill()
                self._sync()
                if self.close_store:
                    self.store.close()
            return
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

    def _sync(self) -> None:
        """The writer process's counts, as far as it answered (a batch it committed as it
        died is stored and not counted)."""
        if self._proc is not None:
            self.stored = self._proc.stored
            self.write_s = self._proc.write_s
            if self._proc.rejected:
                self.rejected["store_rejected"] = self._proc.rejected["store_rejected"]

    def report_bulk(self) -> None:
        """Log what became of the messages (`shopfloor sim` calls it at the end)."""
        self._sync()
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
        self.stored += write_retrying(self.store.write, batch, len(batch), _halves, self.rejected)


def _halves(batch: list[Record]) -> tuple[list[Record], list[Record]]:
    half = len(batch) // 2
    return batch[:half], batch[half:]


def write_retrying(
    write: Callable[[Any], None],
    batch: Any,
    size: int,
    halves: Callable[[Any], tuple[Any, Any]],
    rejected: Counter[str],
) -> int:
    """write(batch), retrying the store's transient errors; returns the records stored. As
    the collector's writer: a record the store can never take is found by halving the batch,
    counted as refused ("store_rejected") and left out; the rest is stored."""
    backoff = 0.5
    for attempt in range(RETRIES + 1):
        try:
            return _write_halving(write, batch, size, halves, rejected)
        except PermanentStoreError:
            raise
        except StoreError as exc:
            if attempt == RETRIES:
                raise
            log.warning("store write failed (%s); retrying in %.1f s", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
    raise AssertionError("unreachable")


def _write_halving(
    write: Callable[[Any], None],
    batch: Any,
    size: int,
    halves: Callable[[Any], tuple[Any, Any]],
    rejected: Counter[str],
) -> int:
    try:
        write(batch)
        return size
    except PermanentStoreError as exc:
        if size <= 1:
            rejected["store_rejected"] += size
            log.warning("the store refused a record: %s", exc)
            return 0
    a, b = halves(batch)
    return _write_halving(write, a, size // 2, halves, rejected) + _write_halving(
        write, b, size - size // 2, halves, rejected
    )


# -- SQLite's writer process ----------------------------------------------------------------

AHEAD = 2  # batches sent and not yet written, at most (as the thread's queue)


def _rows_size(rows: tuple[Any, ...]) -> int:
    """Records in a batch of rows (sqlite.rows_of): every table's rows but the ideal seconds
    (a count's second row) and the machines' last ts (one per machine, not a record)."""
    states, counts, energy, samples, status, _last, materials, orders, _ideals = rows
    return sum(map(len, (states, counts, energy, samples, status, materials, orders)))


def _rows_halves(rows: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """A batch of rows in two, each table's rows halved (the order within a table kept, which
    is what the rollups need), a count's ideal seconds with its count, the machines' last ts
    in both (an upsert keeping the larger)."""
    states, counts, energy, samples, status, last, materials, orders, ideals = rows
    lists = (states, counts, energy, samples, status, materials, orders)
    a = [x[: len(x) // 2] for x in lists]
    b = [x[len(x) // 2 :] for x in lists]
    first = {row[:3] for row in a[1]}
    ideals_a = [r for r in ideals if r[:3] in first]
    ideals_b = [r for r in ideals if r[:3] not in first]
    return (
        (*a[:5], last, *a[5:], ideals_a),
        (*b[:5], last, *b[5:], ideals_b),
    )


def _writer_main(path: str, conn: Connection) -> None:
    """The writer process: opens the SQLite file itself, writes each batch of rows it is sent
    in order, and answers each with ("ok", stored, refused, seconds); ("error", text) and exit
    1 if the store fails. A reader thread takes what arrives at once, so a stop (drop what
    waits) is seen while a batch is being written; the pipe's end (the simulating process
    gone) drops what waits and ends it."""
    from shopfloor.cli.pdeath import die_with_parent
    from shopfloor.store.sqlite import SqliteStore, bulk_rows

    # Ctrl-C reaches the whole process group: the simulating process decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # But a SIGKILLed parent kills it, even while it waits on a busy store and reads no pipe.
    die_with_parent(os.getppid())
    # A batch is some 100,000 new tuples of plain values, none in a cycle: with the default
    # threshold (a collection every 700 new containers) the collector walked the batch in
    # hand over and over, a fifth of this process's CPU (issue 15). Rare collections still
    # free whatever cycle an error leaves.
    gc.set_threshold(200_000, 20, 20)
    waiting: deque[Any] = deque()
    ready = threading.Condition()

    def read() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = ("gone",)
            with ready:
                if msg[0] in ("stop", "gone"):
                    waiting.clear()
                waiting.append(msg)
                ready.notify()
            if msg[0] != "rows":
                return

    threading.Thread(target=read, name="bulk-reader", daemon=True).start()
    try:
        store = SqliteStore(path)
        store.bulk_load(True)
        while True:
            with ready:
                while not waiting:
                    ready.wait()
                msg = waiting.popleft()
            if msg[0] != "rows":
                break
            rejected: Counter[str] = Counter()
            t0 = time.perf_counter()
            tables, status, last, levels = msg[1]
            rows = bulk_rows(marshal.loads(tables), status, last, levels)
            n = write_retrying(store.write_rows, rows, _rows_size(rows), _rows_halves, rejected)
            conn.send(("ok", n, rejected["store_rejected"], time.perf_counter() - t0))
        store.bulk_load(False)
        store.close()
        if msg[0] != "gone":
            conn.send(("done",))
    except BaseException as exc:  # every failure goes back to the simulating process
        with contextlib.suppress(OSError):
            conn.send(("error", f"{exc.__class__.__name__}: {exc}"))
        raise SystemExit(1) from None


class WriterProcess:
    """The simulating side of SQLite's writer process (_writer_main)."""

    def __init__(self, store: Any) -> None:
        self.url = store.url
        self.stored = 0
        self.write_s = 0.0
        self.rejected: Counter[str] = Counter()
        self._ahead = 0
        # A fresh interpreter started as a plain command (no multiprocessing start method):
        # nothing inherited but the pipe's end, and no re-import of the caller's main module.
        mine, theirs = socket.socketpair()
        self._conn = Connection(mine.detach())
        fd = theirs.fileno()
        # The same code as this process's, wherever it was imported from (a checkout).
        here = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH")))),
        }
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "shopfloor.cli.bulk", "--writer", str(fd), str(store.path)],
            pass_fds=(fd,),
            env=env,
        )
        theirs.close()

    def _died(self, doing: str) -> BulkError:
        text = None
        try:
            while self._conn.poll(0):
                msg = self._conn.recv()
                if msg[0] == "error":
                    text = msg[1]
                elif msg[0] == "ok":  # written before it ended: counted
                    self._count(msg)
        except (EOFError, OSError):
            pass
        code = self._wait(5)
        if text is None:
            text = f"the writer process ended unexpectedly (exit code {code}) while {doing}"
        return BulkError(f"writing to {self.url}: {text}")

    def _answer(self, doing: str) -> tuple[Any, ...]:
        """The writer's next answer; BulkError if it failed or died."""
        while not self._conn.poll(0.5):
            if self._proc.poll() is not None:
                raise self._died(doing)
        try:
            msg = self._conn.recv()
        except (EOFError, OSError):
            raise self._died(doing) from None
        if msg[0] == "error":
            self._wait(5)
            raise BulkError(f"writing to {self.url}: {msg[1]}")
        if msg[0] == "ok":
            self._count(msg)
        return msg

    def _count(self, msg: tuple[Any, ...]) -> None:
        self._ahead -= 1
        self.stored += msg[1]
        if msg[2]:
            self.rejected["store_rejected"] += msg[2]
        self.write_s += msg[3]

    def send(
        self, rows: Any, samples: tuple[list[Any], ...], levels: dict[str, TopicParts]
    ) -> None:
        """Sends a batch (a sqlite.RowBuilder and more samples, for sqlite.bulk_rows; `levels`
        each machine's topic levels) once fewer than AHEAD wait. Its tables as marshal (a third cheaper than pickle for lists
        of plain tuples, and the same interpreter reads it), the rest pickled."""
        while self._ahead >= AHEAD or self._conn.poll(0):
            self._answer("writing")
        tables = (rows.states, rows.counts, rows.energy, rows.samples, rows.materials,
                  rows.orders, rows.ideals, samples)  # fmt: skip
        rows = (marshal.dumps(tables), rows.status, rows.last, levels)
        try:
            self._conn.send(("rows", rows))
        except OSError:
            raise self._died("taking a batch") from None
        self._ahead += 1

    def finish(self, drop: bool) -> None:
        """Ends the writer once it has written what it was sent (drop: once it has written the
        batch it is writing, the rest dropped); raises BulkError if it failed."""
        try:
            self._conn.send(("stop",) if drop else ("end",))
        except OSError:
            raise self._died("ending") from None
        while self._answer("ending")[0] != "done":
            pass
        if self._wait(30) != 0:
            raise self._died("ending")

    def kill(self) -> None:
        """Leaves no writer behind, whatever happened (the pipe's end alone ends it; a writer
        stuck in the store is killed)."""
        self._conn.close()
        if self._wait(10) is None:
            self._proc.kill()
            self._proc.wait()

    def _wait(self, timeout_s: float) -> int | None:
        try:
            return self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None


if __name__ == "__main__":
    # The writer process (WriterProcess): python -m shopfloor.cli.bulk --writer FD PATH
    if len(sys.argv) == 4 and sys.argv[1] == "--writer":
        _writer_main(sys.argv[3], Connection(int(sys.argv[2])))
    else:
        sys.exit("usage: python -m shopfloor.cli.bulk --writer FD PATH (started by StoreSink)")
