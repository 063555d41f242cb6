"""Retention for the SQLite store: raw rows pruned in the background, rollups kept longer.

A week of config/large.yaml is well over a gigabyte of raw rows; a plant left running for
months would fill its disk. So the collector runs a `Pruner` beside its SQLite store
(docs/scaling.md, "Retention"):

- Raw rows older than the raw retention (default 30 days) go: power/process samples and state
  changes all of them; the cumulative channels (counts, meter readings, the counts' ideal
  seconds) down to the newest reading of each machine and quarter hour. A cumulative reading
  at a quarter's end is what a range starting or ending on that quarter needs (the report
  takes differences of the newest readings before its two ends), so the overview's parts and
  OEE and the energy page's kWh stay exact over old ranges on whole quarters.
- Each machine keeps its state changes from the hour of its newest change before the cut:
  the state in force at the cut (a range's and the hour rollup's baseline), and everything a
  cold rollup rebuild after the cut reads (shopfloor.store.rollup.HourRollup._rebuild loads
  from the hour of the change before the new one).
- The rollups (seconds per machine, state and hour; loss seconds per reason; kWh per machine
  and quarter) and the quarter-end readings are kept for the rollup retention (default 400
  days: a year and a month, for a year-over-year comparison), or forever.

The cut is a whole hour, so a quarter's readings are never half thinned.

Pruning never blocks the store for long: it uses its own connection (WAL: the store's reads
go on from their snapshot meanwhile), reads the keys of one quarter hour of a table at a
time, deletes at most `batch` rows (1,000) per transaction and then pauses three times as long
as that transaction held the write lock, so a write waits for at most one small transaction
and the writer has the lock at least three quarters of the time
(bench/bench_retention.py measures what it costs the writer and readers). How far
each table is pruned is kept in `retention_marks`, so a pass resumes where the last one
stopped and never reads the quarter-end readings it kept again; a record written late below
that mark stays (rare: a gap filled more than the retention late).

SQLite reuses the freed pages for new rows, so the file stops growing once it holds the
retention's worth; it does not shrink by itself (auto_vacuum is off). A file that should
shrink, say after lowering the retention, takes a `VACUUM` while the collector is stopped.
The InfluxDB stores need none of this: the bucket's (or database's) retention policy expires
their points (docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor import clock
from shopfloor.store.meter_rollup import QUARTER_MS
from shopfloor.store.rollup import HOUR_MS, floor_hour
from shopfloor.timeparse import parse_duration

log = logging.getLogger("shopfloor.store.retention")

DAY_S = 86400.0
RAW_DEFAULT = "30d"
ROLLUP_DEFAULT = "400d"
FOREVER = ("forever", "never", "off")

# Deleted whole below the raw cut.
_RAW_TABLES = ("samples",)
# Thinned to the newest reading per machine and quarter below the raw cut, to the newest
# per machine below the rollup cut.
_CUMULATIVE = ("counts", "energy", "count_ideal")
# Rollup tables and their time column (hour or quarter start, ms).
_ROLLUPS = (("state_hours", "hour"), ("loss_hours", "hour"), ("energy_quarters", "quarter"))

Key = tuple[str, int, int]  # (machine, ts, seq)
# What to delete of one quarter hour's keys (all of them before the cut).
Rule = Callable[[list[Key]], list[Key]]


def parse_retention(text: str, name: str) -> float | None:
    """Seconds in a retention such as 30d, 12w or 720h; None for forever. Raises ValueError
    naming `name` (the option or variable) and what it accepts."""
    t = text.strip().lower()
    if t in FOREVER:
        return None
    try:
        seconds = parse_duration(t)
    except ValueError:
        raise ValueError(
            f"{name}: {text!r} is not a retention (examples: 30d, 12w, 720h, forever)"
        ) from None
    if seconds < 3600:
        raise ValueError(f"{name}: {text!r} is too short, keep at least an hour (1h)")
    return seconds


@dataclass(frozen=True)
class Retention:
    raw_s: float | None  # None: raw rows forever, and then the rollups too (nothing pruned)
    rollup_s: float | None  # None: rollups forever

    def __post_init__(self) -> None:
        if self.rollup_s is not None and self.raw_s is not None and self.rollup_s < self.raw_s:
            raise ValueError(
                "the rollup retention must be at least the raw retention (the rollups are "
                "what old ranges read once the raw rows are gone)"
            )

    @classmethod
    def parse(
        cls,
        raw: str,
        rollup: str,
        raw_name: str = "--retention",
        rollup_name: str = "--rollup-retention",
    ) -> Retention:
        try:
            return cls(parse_retention(raw, raw_name), parse_retention(rollup, rollup_name))
        except ValueError as exc:
            if str(exc).startswith("the rollup"):
                raise ValueError(
                    f"{rollup_name} {rollup!r} with {raw_name} {raw!r}: {exc}"
                ) from None
            raise

    def cuts(self, now_ms: int) -> tuple[int | None, int | None]:
        """(raw cut, rollup cut) in epoch ms, whole hours: rows before them may go."""
        raw = None if self.raw_s is None else floor_hour(now_ms - int(self.raw_s * 1000))
        if raw is None or self.rollup_s is None:
            return raw, None
        rollup = floor_hour(now_ms - int(self.rollup_s * 1000))
        return raw, rollup


@dataclass
class PruneStats:
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    longest_txn_s: float = 0.0  # the longest the write lock was held by one transaction

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


class Pruner:
    """Prunes one SQLite store file to a Retention; `prune()` once, or `start()` a thread that
    prunes every `every_s` seconds (the first pass after `every_s` too: a collector started
    to store an old backfill stores it before anything of it is pruned)."""

    def __init__(
        self,
        path: Path | str,
        retention: Retention,
        *,
        batch: int = 1000,
        every_s: float = 600.0,
        min_pause_s: float = 0.005,
        pause_factor: float = 3.0,
    ) -> None:
        self.path = Path(path)
        self.retention = retention
        self.batch = batch
        self.every_s = every_s
        self.min_pause_s = min_pause_s
        self.pause_factor = pause_factor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self.last: PruneStats | None = None

    # -- the background thread ----------------------------------------------------------

    def start(self) -> Pruner:
        self._thread = threading.Thread(target=self._run, name="sqlite-pruner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                stats = self.prune()
            except Exception as exc:  # pruning must never stop the collecting
                # Locked for longer than the busy timeout, disk full, ...: the next pass
                # resumes from the marks.
                log.warning("pruning %s: %s (trying again in %gs)", self.path, exc, self.every_s)
                if self._db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                continue
            if stats.total:
                log.info(
                    "pruned %s: %d rows in %.1fs (%s)", self.path, stats.total, stats.seconds,
                    ", ".join(f"{t} {n}" for t, n in stats.deleted.items() if n),
                )  # fmt: skip

    # -- one pass -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            # As the store's own connection: in WAL mode a commit is then not an fsync (a
            # deletion lost to a power cut is redone by the next pass).
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS retention_marks "
                "(name TEXT PRIMARY KEY, until_ms INTEGER NOT NULL) WITHOUT ROWID"
            )
            self._db = db
        return self._db

    def prune(self, now_ms: int | None = None) -> PruneStats:
        """One pass up to the cuts for `now_ms` (default: shopfloor.clock's now)."""
        started = time.perf_counter()
        stats = PruneStats()
        self.last = stats
        raw_cut, rollup_cut = self.retention.cuts(clock.now_ms() if now_ms is None else now_ms)
        db = self._conn()
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "machines" not in tables:
            return stats  # not a store file (yet)
        if raw_cut is not None:
            for table in _RAW_TABLES:
                if table in tables:
                    self._thin(db, table, "raw", raw_cut, _keep_none, stats)
            if "states" in tables:
                keep_from = self._state_keep_from(db, raw_cut)
                self._thin(db, "states", "raw", raw_cut, _keep_states(keep_from), stats)
            for table in _CUMULATIVE:
                if table in tables:
                    self._thin(db, table, "raw", raw_cut, _keep_quarter_newest, stats)
        if rollup_cut is not None:
            for table in _CUMULATIVE:
                if table in tables:
                    newest = self._newest_before(db, table, rollup_cut)
                    self._thin(db, table, "rollup", rollup_cut, _keep_keys(newest), stats)
            for table, col in _ROLLUPS:
                if table in tables:
                    self._drop_rollup(db, table, col, rollup_cut, stats)
        stats.seconds = time.perf_counter() - started
        return stats

    def _machines(self, db: sqlite3.Connection) -> list[str]:
        return [m for (m,) in db.execute("SELECT machine FROM machines")]

    def _newest_before(self, db: sqlite3.Connection, table: str, t: int) -> set[Key]:
        """Each machine's newest row before t: one index seek per machine."""
        out: set[Key] = set()
        for m in self._machines(db):
            row = db.execute(
                f"SELECT ts, seq FROM {table} WHERE machine = ? AND ts < ? "
                "ORDER BY ts DESC, seq DESC LIMIT 1",
                (m, t),
            ).fetchone()
            if row is not None:
                out.add((m, row[0], row[1]))
        return out

    def _state_keep_from(self, db: sqlite3.Connection, cut: int) -> dict[str, int]:
        """Per machine, the hour from which its state changes stay: that of its newest change
        before the cut. A machine missing here (none in `machines`) keeps all of its rows."""
        return {m: floor_hour(ts) for m, ts, _ in self._newest_before(db, "states", cut)}

    def _mark(self, db: sqlite3.Connection, name: str) -> int | None:
        row = db.execute("SELECT until_ms FROM retention_marks WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def _thin(
        self,
        db: sqlite3.Connection,
        table: str,
        kind: str,
        cut: int,
        doomed: Rule,
        stats: PruneStats,
    ) -> None:
        """Delete what `doomed` picks from each quarter hour of `table` before `cut`, from
        the table's mark on, quarter by quarter, moving the mark with each deletion."""
        name = f"{table}:{kind}"
        lo = self._mark(db, name)
        if lo is None:
            (first,) = db.execute(f"SELECT min(ts) FROM {table}").fetchone()
            if first is None:
                return
            lo = first - first % QUARTER_MS
        stats.deleted.setdefault(table, 0)
        while lo < cut and not self._stop.is_set():
            # Skip empty stretches (a plant shut for a week) with one index probe.
            (nxt,) = db.execute(
                f"SELECT min(ts) FROM {table} WHERE ts >= ? AND ts < ?", (lo, cut)
            ).fetchone()
            if nxt is None:
                lo = cut
                break
            q0 = nxt - nxt % QUARTER_MS
            q1 = min(q0 + QUARTER_MS, cut)
            keys = db.execute(
                f"SELECT machine, ts, seq FROM {table} WHERE ts >= ? AND ts < ?", (q0, q1)
            ).fetchall()
            gone = doomed(keys)
            for i in range(0, len(gone), self.batch):
                last = i + self.batch >= len(gone)
                self._txn(db, table, gone[i : i + self.batch], name if last else None, q1, stats)
            lo = q1
        self._set_mark(db, name, lo)

    def _txn(
        self,
        db: sqlite3.Connection,
        table: str,
        keys: list[Key],
        mark: str | None,
        until: int,
        stats: PruneStats,
    ) -> None:
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        try:
            if keys:
                db.executemany(
                    f"DELETE FROM {table} WHERE machine = ? AND ts = ? AND seq = ?", keys
                )
            if mark is not None:
                db.execute("INSERT OR REPLACE INTO retention_marks VALUES (?, ?)", (mark, until))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        held = time.perf_counter() - t
        stats.deleted[table] = stats.deleted.get(table, 0) + len(keys)
        stats.longest_txn_s = max(stats.longest_txn_s, held)
        # Give the store's writer (waiting in SQLite's busy handler) the lock back. The
        # steady state needs little: a day of config/large.yaml is 32 rows/s to delete.
        self._stop.wait(max(self.min_pause_s, self.pause_factor * held))

    def _set_mark(self, db: sqlite3.Connection, name: str, until: int) -> None:
        db.execute("INSERT OR REPLACE INTO retention_marks VALUES (?, ?)", (name, until))

    def _drop_rollup(
        self, db: sqlite3.Connection, table: str, col: str, cut: int, stats: PruneStats
    ) -> None:
        """Delete the rollup rows before `cut`, an hour of them per transaction."""
        stats.deleted.setdefault(table, 0)
        while not self._stop.is_set():
            (first,) = db.execute(f"SELECT min({col}) FROM {table}").fetchone()
            if first is None or first >= cut:
                return
            until = min(first - first % HOUR_MS + HOUR_MS, cut)
            t = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            try:
                n = db.execute(f"DELETE FROM {table} WHERE {col} < ?", (until,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            held = time.perf_counter() - t
            stats.deleted[table] += n
            stats.longest_txn_s = max(stats.longest_txn_s, held)
            self._stop.wait(max(self.min_pause_s, self.pause_factor * held))


def _keep_none(keys: list[Key]) -> list[Key]:
    return keys


def _keep_states(keep_from: dict[str, int]) -> Rule:
    def rule(keys: list[Key]) -> list[Key]:
        return [k for k in keys if k[0] in keep_from and k[1] < keep_from[k[0]]]

    return rule


def _keep_quarter_newest(keys: list[Key]) -> list[Key]:
    """All but each machine's newest reading of the quarter (the keys are of one quarter)."""
    newest: dict[str, Key] = {}
    for k in keys:
        if k[0] not in newest or k[1:] > newest[k[0]][1:]:
            newest[k[0]] = k
    kept = set(newest.values())
    return [k for k in keys if k not in kept]


def _keep_keys(kept: Iterable[Key]) -> Rule:
    keep = set(kept)

    def rule(keys: list[Key]) -> list[Key]:
        return [k for k in keys if k not in keep]

    return rule


def days(seconds: float | None) -> str:
    return "forever" if seconds is None else f"{seconds / DAY_S:g} days"
