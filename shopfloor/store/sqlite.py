"""The embedded store: one SQLite file in WAL mode, batched transactions, idempotent writes.

Each channel has its own table keyed (machine, ts, seq), so a message written twice is stored
once (INSERT OR IGNORE). An index on ts alone makes "this window, every machine" fast: with
only (machine, ts), SQLite's planner walks the whole index for cross-machine windows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections import defaultdict
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from shopfloor.contract import PROCESS_VALUE_NAME, STATE_CODE
from shopfloor.kpi import STATES
from shopfloor.store.base import (
    MachineInfo,
    PermanentStoreError,
    ReadOnlyStoreError,
    Record,
    StoreError,
)
from shopfloor.store.meter_rollup import MeterRollup, QuarterRow, Reading
from shopfloor.store.rollup import Change, HourRollup, HourRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS machines (
    machine TEXT PRIMARY KEY, enterprise TEXT, site TEXT, area TEXT, line TEXT,
    kind TEXT, position INTEGER, line_length INTEGER, ideal_cycle_s REAL,
    connectivity TEXT, power_kw TEXT, online INTEGER, status_ts INTEGER, last_ts INTEGER
);
CREATE TABLE IF NOT EXISTS states (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
    state TEXT NOT NULL, code INTEGER NOT NULL, reason TEXT NOT NULL, inferred INTEGER NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS states_ts ON states (ts);
CREATE TABLE IF NOT EXISTS counts (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
    total INTEGER NOT NULL, good INTEGER NOT NULL, scrap INTEGER NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counts_ts ON counts (ts);
CREATE TABLE IF NOT EXISTS energy (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, energy_kwh REAL NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS energy_ts ON energy (ts);
CREATE TABLE IF NOT EXISTS samples (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
    power_kw REAL NOT NULL, "values" TEXT NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_ts ON samples (ts);
CREATE TABLE IF NOT EXISTS state_hours (
    hour INTEGER NOT NULL, machine TEXT NOT NULL, {cols},
    PRIMARY KEY (hour, machine)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS energy_quarters (
    quarter INTEGER NOT NULL, machine TEXT NOT NULL, kwh REAL NOT NULL,
    PRIMARY KEY (quarter, machine)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS materials (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, material TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS count_ideal (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, ideal_s REAL NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
    machine TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
    order_id TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (machine, ts, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loss_hours (
    hour INTEGER NOT NULL, machine TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (hour, machine, state, reason)
) WITHOUT ROWID;
""".format(cols=", ".join(f"{s} REAL NOT NULL" for s in STATES))

log = logging.getLogger("shopfloor.store.sqlite")
# Errors of a record, not of the file: retrying the same batch fails the same way. Python's
# sqlite3 raises OverflowError (not a sqlite3.Error) for an integer beyond 64 bits, TypeError
# or ProgrammingError ("Error binding parameter") for a value it cannot bind; orjson's error
# is a TypeError; a missing payload key is a KeyError.
_RECORD_ERRORS = (
    OverflowError,
    ValueError,
    TypeError,
    KeyError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
)


def _is_record_error(exc: BaseException) -> bool:
    if isinstance(exc, _RECORD_ERRORS):
        return True
    return isinstance(exc, sqlite3.ProgrammingError) and "binding parameter" in str(exc)


ROWS_PER_INSERT = 1000  # rows in one multi-row INSERT (5,000 parameters at most, of 32,766)


def _insert_many(cur: sqlite3.Cursor, table: str, ncols: int, rows: list[tuple[Any, ...]]) -> None:
    """INSERT OR IGNORE of `rows` into `table`, ROWS_PER_INSERT rows per statement (issue
    15). executemany steps once per row, and Python's sqlite3 gives the GIL up and takes it
    back around each step: with another thread busy (the bulk path's simulation, the
    collector's intake) each row waited for the GIL (up to the 5 ms switch interval), so
    the writer barely ran beside it. A multi-row INSERT is one step per thousand rows, run
    outside the GIL, at the same CPU cost; the values are bound as executemany binds them
    (same types, same errors). One JSON array unpacked by json_each was tried: one step, but
    40% more CPU per row (SQLite parses each row's JSON once per column)."""
    one = "(" + ",".join("?" * ncols) + ")"
    for i in range(0, len(rows), ROWS_PER_INSERT):
        part = rows[i : i + ROWS_PER_INSERT]
        cur.execute(
            f"INSERT OR IGNORE INTO {table} VALUES {','.join([one] * len(part))}",
            list(chain.from_iterable(part)),
        )


# states, counts, energy, samples, status, last, materials, orders, ideals (rows_of)
Rows = tuple[Any, ...]


_templates: dict[tuple[str, ...], str] = {}


def _template(keys: tuple[str, ...]) -> str:
    """A %-format of the JSON of a sample's process values (rows_of's), taking the text of
    each value (keys: its payload's, ts, seq and power_kw first)."""
    t = _templates.get(keys)
    if t is None:
        pairs = ",".join(orjson.dumps(k).decode().replace("%", "%%") + ":%s" for k in keys[3:])
        t = _templates[keys] = "{" + pairs + "}"
    return t


def sample_rows(
    machines: list[str], keys: list[tuple[str, ...]], values: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The samples table's rows of telemetry payloads given as columns: each one's machine,
    keys and values (the bulk path's, collector.fastcheck.telemetry_values: ts, seq,
    power_kw first, then floats), the process values' JSON as rows_of's orjson.dumps of the
    same dict gives it (issue 15). A batch's process values go through orjson in one call,
    and the JSON of every row comes out of one %-format of that text: a few C calls a batch
    instead of a few a row (0.67 µs a row against 0.95 with ts, seq and power_kw in the
    text, and 0.84 for orjson.dumps of a dict a row)."""
    if not values:
        return []
    for k in set(keys):
        _template(k)
    # orjson writes only numbers here (finite floats: no comma, no bracket in one), each as
    # it writes it in a dict.
    text = orjson.dumps([v[3:] for v in values]).decode()
    parts = tuple(filter(None, text[2:-2].replace("],[", ",").split(",")))
    js = ("\0".join(map(_templates.__getitem__, keys)) % parts).split("\0")
    return [(m, v[0], v[1], v[2], j) for m, v, j in zip(machines, values, js, strict=True)]


def bulk_rows(
    tables: tuple[list[tuple[Any, ...]], ...],
    status: list[Record],
    last: dict[str, tuple[Any, int]],
    levels: dict[str, Any],
) -> Rows:
    """write_rows' rows from the bulk path's batch (shopfloor/cli/bulk.py): `tables` are a
    RowBuilder's states, counts, energy, samples, materials, orders and ideals, then the
    samples added without a Record, as three columns (sample_rows); `last` holds the newest ts of the records added as Records only.
    Completes both as rows_of would have: those samples' rows, and each machine's newest ts
    over every row (`levels`: each machine's topic levels, for the machines table). Runs in
    the writer process, which has time to spare."""
    states, counts, energy, samples, materials, orders, ideals, payloads = tables
    if payloads:
        samples += sample_rows(*payloads)
    newest: dict[str, int] = {}
    get = newest.get
    for table in (states, counts, energy, samples):
        for r in table:
            if r[1] > get(r[0], -1):
                newest[r[0]] = r[1]
    for m, ts in newest.items():
        prev = last.get(m)
        if (prev is None or ts > prev[1]) and m in levels:
            last[m] = (levels[m], ts)
    return states, counts, energy, samples, status, last, materials, orders, ideals


class RowBuilder:
    """The rows write() inserts, per table, built a record at a time (rows_of), the lists
    open to the bulk path (shopfloor/cli/bulk.py), which appends the rows of most messages
    to them directly, in the order it takes them."""

    __slots__ = (
        "counts",
        "energy",
        "ideals",
        "last",
        "materials",
        "orders",
        "samples",
        "states",
        "status",
    )  # fmt: skip

    def __init__(self) -> None:
        self.states: list[tuple[Any, ...]] = []
        self.counts: list[tuple[Any, ...]] = []
        self.energy: list[tuple[Any, ...]] = []
        self.samples: list[tuple[Any, ...]] = []
        self.materials: list[tuple[Any, ...]] = []  # issue 12: deliveries
        self.orders: list[tuple[Any, ...]] = []  # issue 12: work order events
        self.ideals: list[tuple[Any, ...]] = []  # issue 12: counts' ideal seconds
        self.status: list[Record] = []
        # Each machine's newest ts, with its record (or anything with the same enterprise,
        # site, area, line and machine attributes: the bulk path gives its TopicParts).
        self.last: dict[str, tuple[Any, int]] = {}

    def add(self, r: Record) -> None:
        """The record's rows; PermanentStoreError (and no row) for one SQLite cannot take."""
        try:
            self._add(r)
        except _RECORD_ERRORS as exc:
            raise PermanentStoreError(f"{exc.__class__.__name__}: {exc}") from None

    def _add(self, r: Record) -> None:
        p = r.payload
        ch = r.channel
        if ch == "telemetry":  # most records: first
            # A copy less three keys: a third of the comprehension's time (issue 15).
            values = p.copy()
            values.pop("ts", None)
            values.pop("seq", None)
            del values["power_kw"]
            # orjson: a third of the write path's time went to the stdlib's json.dumps.
            row: tuple[Any, ...] = (
                r.machine,
                r.ts,
                r.seq,
                p["power_kw"],
                orjson.dumps(values).decode(),
            )
            self.samples.append(row)
        elif ch == "state":
            row = (
                r.machine,
                r.ts,
                r.seq,
                p["state"],
                STATE_CODE[p["state"]],
                p.get("reason", ""),
                int(r.inferred),
            )
            self.states.append(row)
        elif ch == "count":
            row = (r.machine, r.ts, r.seq, p["total"], p["good"], p["scrap"])
            ideal = (r.machine, r.ts, r.seq, p["ideal_s"]) if "ideal_s" in p else None
            self.counts.append(row)
            if ideal is not None:  # issue 12: a station of a line with products
                self.ideals.append(ideal)
        elif ch == "energy":
            self.energy.append((r.machine, r.ts, r.seq, p["energy_kwh"]))
        elif ch == "material":
            self.materials.append((r.machine, r.ts, r.seq, p["material"], orjson.dumps(p).decode()))
        elif ch == "order":
            self.orders.append(
                (r.machine, r.ts, r.seq, r.line, p["order_id"], orjson.dumps(p).decode())
            )
        elif ch == "status":
            self.status.append(r)  # in order: a birth and a death may share a batch
            # A will carries no ts (it is stamped on arrival): not a sign of data.
            self.last.setdefault(r.machine, (r, 0))
            return
        prev = self.last.get(r.machine)
        if prev is None or r.ts > prev[1]:
            self.last[r.machine] = (r, r.ts)

    def rows(self) -> Rows:
        return (
            self.states, self.counts, self.energy, self.samples, self.status, self.last,
            self.materials, self.orders, self.ideals,
        )  # fmt: skip


def rows_of(records: list[Record]) -> Rows:
    """The rows write() inserts for `records`, per table: a function of the records alone
    (the bulk path builds them in the simulating process and writes them in another)."""
    b = RowBuilder()
    add = b._add
    for r in records:
        add(r)
    return b.rows()


PAGE_BYTES = 16384  # a new file's page size (SQLite's default is 4096)
BULK_CACHE_KIB = 128 * 1024  # SQLite's page cache during a bulk load (bulk_load)
BULK_CHECKPOINT_PAGES = 50_000  # WAL pages between checkpoints during one (800 MB of 16 KiB)
ROLLUP_VERSION = 4  # 1: seconds per state; 2: loss seconds per reason; 3-4: kWh per quarter

_MACHINE_COLS = (
    "machine", "enterprise", "site", "area", "line", "kind", "position", "line_length",
    "ideal_cycle_s", "connectivity", "power_kw", "online", "status_ts", "last_ts",
)  # fmt: skip


class SqliteStore:
    def __init__(self, path: Path | str, read_only: bool = False):
        """read_only (the dashboard, `shopfloor kpi`, the demo's supervisor): a file that has
        the current schema and rollups is opened with SQLite's mode=ro, so the reader can
        never write and holds no write lock; a missing or older file is opened as a writer
        would once (schema, rollup build), since nothing can be read from it otherwise.
        Either way write() then raises ReadOnlyStoreError."""
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.read_only = read_only
        self._lock = threading.Lock()
        self.rollup = HourRollup(self._load_changes)
        self.meters = MeterRollup(self._load_readings)
        if read_only and self._open_read_only():
            return
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            # A new file's pages (an existing file keeps its own): fewer page splits per row
            # inserted, 10-15% of a bulk load's writer CPU (issue 15, bench/README.md).
            self.db.execute(f"PRAGMA page_size = {PAGE_BYTES}")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        self._upgrade_rollup()

    def _open_read_only(self) -> bool:
        """True when the file is open read-only: it exists with this version's rollups."""
        if not self.path.is_file():
            return False
        try:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True, check_same_thread=False, isolation_level=None, timeout=30,
            )  # fmt: skip
        except sqlite3.Error:
            return False
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error:
            db.close()
            return False
        if version < ROLLUP_VERSION:
            db.close()
            return False
        self.db = db
        return True

    def _upgrade_rollup(self) -> None:
        """A file written before the rollup (or this version of it) gets it built once from
        its raw state changes; PRAGMA user_version records that it has been."""
        with self._lock:
            try:
                (version,) = self.db.execute("PRAGMA user_version").fetchone()
                if version >= ROLLUP_VERSION:
                    return
                machines = [m for (m,) in self.db.execute("SELECT DISTINCT machine FROM states")]
                metered = [m for (m,) in self.db.execute("SELECT DISTINCT machine FROM energy")]
                if machines:
                    log.info(
                        "building the hour rollup of %s (%d machines)", self.path, len(machines)
                    )
                cur = self.db.cursor()
                cur.execute("BEGIN")
                cur.execute("DELETE FROM state_hours")
                cur.execute("DELETE FROM loss_hours")
                cur.execute("DELETE FROM energy_quarters")
                for m in machines:
                    self._write_rollup(cur, self.rollup._rebuild(m, 0))
                for m in metered:
                    self._write_quarters(cur, self.meters.rebuild(m, 0))
                cur.execute(f"PRAGMA user_version = {ROLLUP_VERSION}")
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self.rollup.forget()
                self.meters.forget()
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise StoreError(f"{self.path}: building the rollup: {exc}") from None

    def _write_quarters(self, cur: sqlite3.Cursor, rows: list[QuarterRow]) -> None:
        cur.executemany(
            "INSERT OR REPLACE INTO energy_quarters VALUES (?,?,?)", [(q, m, k) for m, q, k in rows]
        )

    def _write_rollup(self, cur: sqlite3.Cursor, rows: list[HourRow]) -> None:
        cur.executemany(
            f"INSERT OR REPLACE INTO state_hours VALUES (?,?,{','.join('?' * len(STATES))})",
            [(h, m, *(secs.states[k] for k in STATES)) for m, h, secs in rows],
        )
        cur.executemany(
            "DELETE FROM loss_hours WHERE hour = ? AND machine = ?", [(h, m) for m, h, _ in rows]
        )
        cur.executemany(
            "INSERT INTO loss_hours VALUES (?,?,?,?,?)",
            [(h, m, st, r, v) for m, h, secs in rows for (st, r), v in secs.losses.items()],
        )

    # -- writes ----------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        """Raises PermanentStoreError for a record SQLite can never take (an integer beyond 64
        bits, a value of a type it cannot bind, a missing field, a constraint), StoreError
        for the file's own trouble (locked, busy, disk full): see _RECORD_ERRORS."""
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.url} was opened read-only: it takes no writes")
        try:
            rows = rows_of(records)
        except _RECORD_ERRORS as exc:
            raise PermanentStoreError(f"{self.path}: {exc.__class__.__name__}: {exc}") from None
        self.write_rows(rows)

    @staticmethod
    def row_builder() -> RowBuilder:
        """An empty batch of rows for write_rows (the bulk path's writer process)."""
        return RowBuilder()

    def write_rows(self, rows: Rows) -> None:
        """write() of rows already built by rows_of (possibly in another process: the bulk
        path's writer, shopfloor/cli/bulk.py); same transaction, rollups and errors."""
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.url} was opened read-only: it takes no writes")
        with self._lock:
            try:
                self._insert(*rows)
            except BaseException as exc:
                self.rollup.forget()  # their memory ran ahead of what was rolled back
                self.meters.forget()
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                if _is_record_error(exc):
                    raise PermanentStoreError(
                        f"{self.path}: {exc.__class__.__name__}: {exc}"
                    ) from None
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: {exc}") from None
                raise

    def _insert(
        self,
        states: list[tuple[Any, ...]],
        counts: list[tuple[Any, ...]],
        energy: list[tuple[Any, ...]],
        samples: list[tuple[Any, ...]],
        status: list[Record],
        last: dict[str, tuple[Record, int]],
        materials: list[tuple[Any, ...]],
        orders: list[tuple[Any, ...]],
        ideals: list[tuple[Any, ...]],
    ) -> None:
        """One transaction; the caller holds the lock and rolls back on any exception."""
        cur = self.db.cursor()
        cur.execute("BEGIN")
        if states:
            _insert_many(cur, "states", 7, states)
        if counts:
            _insert_many(cur, "counts", 6, counts)
        if energy:
            _insert_many(cur, "energy", 4, energy)
        if samples:
            _insert_many(cur, "samples", 5, samples)
        if materials:
            cur.executemany("INSERT OR IGNORE INTO materials VALUES (?,?,?,?,?)", materials)
        if orders:
            cur.executemany("INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?,?)", orders)
        if ideals:
            cur.executemany("INSERT OR IGNORE INTO count_ideal VALUES (?,?,?,?)", ideals)
        if states:
            new: dict[str, list[Change]] = defaultdict(list)
            for row in states:
                new[row[0]].append((row[1], row[2], row[3], row[5]))
            self._write_rollup(cur, self.rollup.apply(new))
        if energy:
            readings: dict[str, list[Reading]] = defaultdict(list)
            for m, ts, seq, kwh in energy:
                readings[m].append((ts, seq, float(kwh)))
            self._write_quarters(cur, self.meters.apply(readings))
        for r, ts in last.values():
            cur.execute(
                "INSERT INTO machines (machine, enterprise, site, area, line, last_ts) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(machine) DO UPDATE SET last_ts = max(coalesce(last_ts, 0), excluded.last_ts)",
                (r.machine, r.enterprise, r.site, r.area, r.line, ts),
            )
        for r in status:
            self._status(cur, r)
        cur.execute("COMMIT")

    def _rows_from(self, table: str, cols: str, machine: str, t: int) -> list[Any]:
        """Inside a write transaction (the lock is held), the rollups' view of the raw rows:
        one machine's rows with ts >= t, after the newest one before t, in time order."""
        before = self.db.execute(
            f"SELECT {cols} FROM {table} WHERE machine = ? AND ts < ? ORDER BY ts DESC, seq DESC LIMIT 1",
            (machine, t),
        ).fetchall()
        after = self.db.execute(
            f"SELECT {cols} FROM {table} WHERE machine = ? AND ts >= ? ORDER BY ts, seq",
            (machine, t),
        ).fetchall()
        return before + after

    def _load_changes(self, machine: str, t: int) -> list[Change]:
        return self._rows_from("states", "ts, seq, state, reason", machine, t)

    def _load_readings(self, machine: str, t: int) -> list[Reading]:
        return self._rows_from("energy", "ts, seq, energy_kwh", machine, t)

    def _status(self, cur: sqlite3.Cursor, r: Record) -> None:
        p = r.payload
        if p.get("online"):
            cur.execute(
                "UPDATE machines SET kind=?, position=?, line_length=?, ideal_cycle_s=?, connectivity=?, "
                "power_kw=?, online=1, status_ts=? WHERE machine=? AND coalesce(status_ts, 0) <= ?",
                (
                    p.get("kind", "generic"), p.get("position", 0), p.get("line_length", 1),
                    p.get("ideal_cycle_s", 0.0), p.get("connectivity", "full"),
                    json.dumps(p.get("power_kw")) if p.get("power_kw") else None,
                    r.ts, r.machine, r.ts,
                ),
            )  # fmt: skip
        else:
            # A will has no ts: it is news whenever it arrives.
            cur.execute("UPDATE machines SET online=0 WHERE machine=?", (r.machine,))

    # -- queries ---------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self.db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from None

    def machines(self) -> list[MachineInfo]:
        rows = self._query(
            f"SELECT {', '.join(_MACHINE_COLS)} FROM machines ORDER BY area, line, position, machine"
        )
        out = []
        for row in rows:
            d = dict(zip(_MACHINE_COLS, row, strict=True))
            out.append(
                MachineInfo(
                    machine=d["machine"], enterprise=d["enterprise"], site=d["site"], area=d["area"], line=d["line"],
                    kind=d["kind"] or "generic", position=d["position"] or 0, line_length=d["line_length"] or 1,
                    ideal_cycle_s=d["ideal_cycle_s"] or 0.0, connectivity=d["connectivity"] or "full",
                    power_kw=json.loads(d["power_kw"]) if d["power_kw"] else None,
                    online=bool(d["online"]), last_ts=d["last_ts"] or 0, birth_ts=d["status_ts"] or 0,
                )
            )  # fmt: skip
        return out

    def _latest(
        self, table: str, cols: str, t: int, only: str | None = None
    ) -> dict[str, tuple[Any, ...]]:
        """Per machine, the newest row with ts < t: one index seek per machine, all inside
        one statement (a GROUP BY over the table reads every row before t; a statement per
        machine cost 225 round trips through Python, and a page asks for dozens of instants)."""
        picked = ", ".join(f"t.{c.strip()}" for c in cols.split(","))
        where, args = ("WHERE m.machine = ?", (t, only)) if only else ("", (t,))
        # CROSS JOIN keeps the machines as the outer loop: a seek per machine, never a scan.
        sql = (
            f"SELECT t.machine, t.ts, {picked} FROM machines m CROSS JOIN {table} t "
            f"ON t.machine = m.machine AND (t.ts, t.seq) = (SELECT ts, seq FROM {table} "
            f"WHERE machine = m.machine AND ts < ? ORDER BY ts DESC, seq DESC LIMIT 1) {where}"
        )
        return {m: tuple(rest) for m, *rest in self._query(sql, args)}

    def last_changes(self, t: int, machine: str | None = None) -> dict[str, tuple[int, str, str]]:
        rows = self._latest("states", "state, reason", t, machine)
        return {m: (ts, st, r) for m, (ts, st, r) in rows.items()}

    def state_hours(self, h0: int, h1: int) -> dict[str, dict[str, float]]:
        rows = self._query(
            f"SELECT machine, {', '.join(f'sum({s})' for s in STATES)} FROM state_hours "
            "WHERE hour >= ? AND hour < ? GROUP BY machine",
            (h0, h1),
        )
        return {m: dict(zip(STATES, secs, strict=True)) for m, *secs in rows}

    def loss_hours(self, h0: int, h1: int) -> dict[tuple[str, str], float]:
        rows = self._query(
            "SELECT state, reason, sum(seconds) FROM loss_hours WHERE hour >= ? AND hour < ? "
            "GROUP BY state, reason",
            (h0, h1),
        )
        return {(s, r): float(v) for s, r, v in rows}

    def states(
        self, t0: int, t1: int, machine: str | None = None
    ) -> dict[str, list[tuple[int, str, str]]]:
        out: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for m, change in self.last_changes(t0, machine).items():
            out[m].append(change)
        where, args = ("machine = ? AND ", (machine,)) if machine else ("", ())
        for m, ts, state, reason in self._query(
            f"SELECT machine, ts, state, reason FROM states WHERE {where}ts >= ? AND ts < ? ORDER BY machine, ts, seq",
            (*args, t0, t1),
        ):
            out[m].append((ts, state, reason))
        return dict(out)

    def counter_at(
        self, channel: str, t: int, machine: str | None = None
    ) -> dict[str, tuple[int, dict[str, float]]]:
        if channel == "count":
            rows = self._latest("counts", "total, good, scrap", t + 1, machine)
            out = {
                m: (ts, {"total": a, "good": b, "scrap": c}) for m, (ts, a, b, c) in rows.items()
            }
            if self._has_ideals():  # issue 12: every count of such a station carries it
                for m, (_, ideal_s) in self._latest(
                    "count_ideal", "ideal_s", t + 1, machine
                ).items():
                    if m in out:
                        out[m][1]["ideal_s"] = ideal_s
            return out
        if channel == "energy":
            rows = self._latest("energy", "energy_kwh", t + 1, machine)
            return {m: (ts, {"energy_kwh": e}) for m, (ts, e) in rows.items()}
        raise ValueError(f"not a cumulative channel: {channel}")

    def samples(self, machine: str, t0: int, t1: int, every_ms: int = 0) -> list[tuple[int, float]]:
        if every_ms > 0:
            return [
                (int(b), float(p))
                for b, p in self._query(
                    "SELECT (ts / ?) * ?, avg(power_kw) FROM samples WHERE machine = ? AND ts >= ? AND ts < ? "
                    "GROUP BY ts / ? ORDER BY 1",
                    (every_ms, every_ms, machine, t0, t1, every_ms),
                )
            ]
        return [(int(ts), float(p)) for ts, p in self._query(
            "SELECT ts, power_kw FROM samples WHERE machine = ? AND ts >= ? AND ts < ? ORDER BY ts", (machine, t0, t1)
        )]  # fmt: skip

    def process_values(self, machine: str, name: str, t0: int, t1: int) -> list[tuple[int, float]]:
        if not PROCESS_VALUE_NAME.match(name):
            raise ValueError(f"not a process value name: {name!r}")
        return [(int(ts), float(v)) for ts, v in self._query(
            "SELECT ts, json_extract(\"values\", ?) FROM samples WHERE machine = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts", (f"$.{name}", machine, t0, t1),
        ) if v is not None]  # fmt: skip

    def energy_quarters(self, q0: int, q1: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for quarter, machine, kwh in self._query(
            # In the primary key's order (quarter, machine): no sort, and each machine's
            # quarters still come in time order. Typed columns: int and float already.
            "SELECT quarter, machine, kwh FROM energy_quarters WHERE quarter >= ? AND quarter < ? "
            "ORDER BY quarter, machine",
            (q0, q1),
        ):
            out[machine].append((quarter, kwh))
        return dict(out)

    def energy_quarter_sums(self, q0: int, q1: int, machines: list[str]) -> dict[int, float]:
        # Summed inside SQLite, in the primary key's order (a streaming GROUP BY, no sort):
        # a week of 225 machines is 150,000 quarters, the plant's curve 672 (~60 ms against
        # ~120 ms through Python).
        if not machines:
            return {}
        marks = ", ".join("?" for _ in machines)
        return dict(
            self._query(
                "SELECT quarter, sum(kwh) FROM energy_quarters WHERE quarter >= ? AND quarter < ? "
                f"AND machine IN ({marks}) GROUP BY quarter",
                (q0, q1, *machines),
            )
        )

    def energy_buckets(self, t0: int, t1: int, every_ms: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for machine, bucket, kwh, _ in self._query(
            # The newest reading per bucket (SQLite takes the bare column from the max row).
            "SELECT machine, (ts / ?) * ?, energy_kwh, max(ts * 1000000 + seq) FROM energy "
            "WHERE ts >= ? AND ts < ? GROUP BY machine, ts / ? ORDER BY machine, 2",
            (every_ms, every_ms, t0, t1, every_ms),
        ):
            out[machine].append((int(bucket), float(kwh)))
        return dict(out)

    def max_seq(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for table in ("states", "counts", "energy", "samples", "materials", "orders"):
            if table in ("materials", "orders") and not self._has_table(table):
                continue  # a read-only file from before issue 12
            for machine, seq in self._query(
                f"SELECT machine, max(seq) FROM {table} WHERE {'inferred = 0' if table == 'states' else '1'} GROUP BY machine"
            ):
                out[machine] = max(out.get(machine, 0), seq or 0)
        return out

    def _has_ideals(self) -> bool:
        return self._has_table("count_ideal") and bool(
            self._query("SELECT 1 FROM count_ideal LIMIT 1")
        )

    def _has_table(self, table: str) -> bool:
        return bool(
            self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        )

    def deliveries(self, t0: int, t1: int, machine: str | None = None) -> list[dict[str, Any]]:
        """Material deliveries (issue 12) with ts in [t0, t1), in time order, each its payload
        with `machine`."""
        if not self._has_table("materials"):
            return []
        where, args = ("AND machine = ?", (machine,)) if machine else ("", ())
        return [
            {**orjson.loads(payload), "machine": m}
            for m, payload in self._query(
                f"SELECT machine, payload FROM materials WHERE ts >= ? AND ts < ? {where} "
                "ORDER BY ts, seq",
                (t0, t1, *args),
            )
        ]

    def order_events(self, t1: int, line: str | None = None) -> list[dict[str, Any]]:
        """Work-order events (issue 12) with ts before t1, in time order: each its `order`
        payload (shopfloor.contract.OrderPayload) with `machine` and `line`; folded by
        shopfloor.orders.fold_events into each order's state at t1."""
        if not self._has_table("orders"):
            return []
        where, args = ("AND line = ?", (line,)) if line else ("", ())
        return [
            {**orjson.loads(payload), "machine": m, "line": ln}
            for m, ln, payload in self._query(
                f"SELECT machine, line, payload FROM orders WHERE ts < ? {where} ORDER BY ts, seq",
                (t1, *args),
            )
        ]

    def bulk_load(self, on: bool) -> None:
        """Around a bulk load (shopfloor/cli/bulk.py, issue 15): a page cache big enough for
        the newest pages of every machine in every table at once (a leaf per machine in each
        of four tables is about 4 MB for config/large.yaml's 225, twice SQLite's default
        cache, so each batch read its pages back), and the WAL checkpointed every
        BULK_CHECKPOINT_PAGES instead of every 1,000 pages (16 MB of 16 KiB: after every batch, each
        copying back the same hot leaves and syncing the file; about 15% of the writer
        process's CPU and much of its waiting). Both given back after, the WAL checkpointed
        and truncated. Neither weakens what a crash can do: a commit in the WAL is as safe as
        one checkpointed (synchronous=NORMAL in WAL mode)."""
        if self.read_only:
            return
        with self._lock:
            if on:
                (self._cache_size,) = self.db.execute("PRAGMA cache_size").fetchone()
                (self._checkpoint,) = self.db.execute("PRAGMA wal_autocheckpoint").fetchone()
                self.db.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
                self.db.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")
            else:
                self.db.execute(f"PRAGMA cache_size = {getattr(self, '_cache_size', -2000)}")
                self.db.execute(f"PRAGMA wal_autocheckpoint = {getattr(self, '_checkpoint', 1000)}")
                # A reader still in the WAL leaves it for a later checkpoint: not an error.
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        with self._lock:
            self.db.close()
