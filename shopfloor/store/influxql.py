"""The read side of the InfluxDB stores: InfluxQL over /query, which InfluxDB 1.x, 2.x (through
a DBRP mapping) and 3.x all serve. Each query asks only for what a KPI needs: boundary values
of cumulative counters, state changes in the window, bucketed power."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from shopfloor.contract import PROCESS_VALUE_NAME
from shopfloor.kpi import STATES
from shopfloor.store import lineproto
from shopfloor.store.base import MachineInfo, Record, StoreError
from shopfloor.store.meter_rollup import (
    QUARTER_MS,
    MeterRollup,
    QuarterRow,
    Reading,
    floor_quarter,
)
from shopfloor.store.rollup import HOUR_MS, Change, HourRollup

log = logging.getLogger("shopfloor.store.influx")

Series = list[dict[str, Any]]  # [{"name", "tags", "columns", "values"}]
Query = Callable[[str], list[Series]]


def _rows(series: Series) -> list[tuple[dict[str, str], dict[str, Any]]]:
    out = []
    for s in series:
        cols = s["columns"]
        for v in s.get("values", []):
            out.append((s.get("tags") or {}, dict(zip(cols, v, strict=True))))
    return out


def _ms(t: Any) -> int:
    return int(t) // 1000 if isinstance(t, int) else int(t)


def _lit(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _one_of(names: list[str]) -> str:
    """A regex literal matching exactly these names: influxd 1.6 answers a tag test of 225
    names as a regex in a fifth of the time it takes for 225 ORed equalities."""
    return "/^(?:" + "|".join(re.escape(n).replace("/", "\\/") for n in names) + ")$/"


def _only(machine: str | None, among: list[str] | None) -> str:
    """The WHERE clause's start naming one machine, or several (`among`), or none."""
    if machine:
        return f"machine = {_lit(machine)} AND "
    return f"machine =~ {_one_of(among)} AND " if among is not None else ""


# A rollup sum over at most this many hours is read as rows and added up here: influxd 1.6's
# sum() costs about as much for one hour of 225 machines as for a day (45-100 ms), the rows of
# one hour 5-10 ms. Added in time order from 0.0, as sum() does: the same numbers.
RAW_SUM_HOURS = 12

# Retention (issue 15, docs/scaling.md): the raw records live in the database's default
# retention policy (InfluxDB 2.x: the bucket), expired after the raw retention; what old
# ranges read lives in this retention policy (2.x: a second bucket, mapped to this name by a
# DBRP mapping), kept longer: the rollups, each machine's birth (`status`), the bookkeeping
# points and the counters at quarter ends (`<channel>_ends`). A store written before it
# existed has all of them in the default policy; readers read there until it appears.
ROLLUP_RP = "rollups"
ROLLUP_MEASUREMENTS = (
    "status", "heard", "state_latest", "count_latest", "energy_latest", "latest_complete",
    "meter_rollup", "state_hours", "loss_hours", "energy_quarters", "count_ends", "energy_ends",
    "restamped", "migrated",  # (1.x: the old layout's points moved)
)  # fmt: skip
# The cumulative channels whose newest reading per machine and quarter hour is kept there:
# what a range's counts and kWh need at its two ends once the raw readings are gone.
ENDS = ("count", "energy")


DAY_MS = 86_400_000


def anchor(keep_ms: int | None) -> tuple[int, int]:
    """(the time of the bookkeeping points written now, in us; its period, in us). Once they
    sat at time 0, which a retention policy refuses (every write failed). Now they are written
    at the real clock's day (its hour when the rollups are kept less than four days), and
    each writer writes every machine's points again at each new one (`restamped`), so reads
    look at the last two periods only: last() over every point since the first would grow
    with the store (89 ms for 60 days of hourly points of 225 machines, 3 ms for one each)."""
    period = HOUR_MS if keep_ms is not None and 0 < keep_ms < 4 * DAY_MS else DAY_MS
    now = int(time.time() * 1000)
    return (now - now % period) * 1000, period * 1000


# Where a batch's own `heard` and `<channel>_latest` points go: this long after the anchor,
# the points written again at a new anchor go at it (see derived_lines).
FRESH_US = 1


def _newest(series: Series) -> Series:
    """One series per machine, with the newest row of those given for it."""
    best: dict[str | None, dict[str, Any]] = {}
    for sr in series:
        m = (sr.get("tags") or {}).get("machine")
        got = best.get(m)
        if got is None or _ms(sr["values"][-1][0]) > _ms(got["values"][-1][0]):
            best[m] = sr
    return list(best.values())


def _since(since_us: int | None) -> str:
    return "" if since_us is None else f"time >= {since_us}u"


def _where(*conds: str) -> str:
    conds = tuple(c for c in conds if c)
    return f"WHERE {' AND '.join(conds)} " if conds else ""


# Each machine's newest record per channel, as InfluxDB 1.x stores keep it (`<channel>_latest`
# points, see InfluxQLQueries.latest_lines and `anchor`): the fields kept beside `us`, the raw
# point's time in microseconds, and its seq.
LATEST = {
    "state": ("state", "reason"),
    "count": ("total", "good", "scrap", "ideal_s"),  # ideal_s: lines with products (issue 12)
    "energy": ("energy_kwh",),
}
OPTIONAL_FIELDS = frozenset({"ideal_s"})  # in some records of a channel only
# The newest raw record per machine, the way a reader asked before the `_latest` points: an
# unbounded last() over every series of the channel (15-150 ms on a week of 225 machines).
_NEWEST = {
    "state": 'SELECT last("state") AS state, "reason", "seq" FROM state',
    "count": 'SELECT last("total") AS total, "good", "scrap", "ideal_s", "seq" FROM count',
    "energy": 'SELECT last("energy_kwh") AS energy_kwh, "seq" FROM energy',
}
Latest = dict[str, tuple[int, int, dict[str, Any]]]  # machine -> (point time us, seq, fields)


class NoInfluxQL(StoreError):
    """The server takes line protocol but answers no InfluxQL (VictoriaMetrics)."""


class InfluxQLReader:
    def __init__(self, query: Query):
        self._run = query  # runs InfluxQL with epoch=u, returns one Series per statement
        # Where the ROLLUP_MEASUREMENTS are: `"rollups".` once that policy exists, "" (the
        # default policy) in a store written before it. Set by the store's `layout`, which
        # each use asks first (it looks again at most once a minute).
        self._r = ""
        self.layout: Callable[[], None] = lambda: None
        # InfluxDB 2.x: the births are read from the default bucket too once the rollups are
        # elsewhere. A store written before its rollup bucket existed keeps its births
        # there (2.x has no SELECT INTO to move them): without them every machine would
        # vanish from the machine list until its next birth.
        self.births_too = False

    @property
    def r(self) -> str:
        self.layout()
        return self._r

    @r.setter
    def r(self, value: str) -> None:
        self._r = value

    def m(self, name: str) -> str:
        """A measurement of ROLLUP_MEASUREMENTS, qualified with its retention policy."""
        return f'{self.r}"{name}"'

    def query(self, q: str) -> list[Series]:
        out = self._run(q)
        want = q.count(";") + 1
        if len(out) != want or any(s.get("name") == "databases" for r in out for s in r):
            # (VictoriaMetrics answers any /query with SHOW DATABASES' answer.)
            # Not an InfluxQL server (VictoriaMetrics takes writes only), or a broken answer.
            raise NoInfluxQL(
                f"/query gave {len(out)} results for {want} statements: no InfluxQL here"
            )
        return out

    def machines(self, since_us: int | None = None) -> list[MachineInfo]:
        """`since_us`: the `heard` points' window (see `anchor`), None: all of them."""
        birth_q = (
            'SELECT last("ideal_cycle_s") AS ideal_cycle_s, "kind", "position", "line_length", "connectivity", "power_kw" '
            'FROM {} WHERE "online" = 1 GROUP BY enterprise, site, area, line, machine;'
            'SELECT last("online") AS online FROM {} GROUP BY machine'
        )
        both = self.births_too and bool(self.r)
        (births, online, heard, *old) = self.query(
            birth_q.format(self.m("status"), self.m("status")) + ";"
            f'SELECT last("last_ts") AS last_ts FROM {self.m("heard")} {_where(_since(since_us))}GROUP BY machine'
            + (";" + birth_q.format('"status"', '"status"') if both else "")
        )
        if old:  # the newest birth and online point of each machine, from either place
            births, online = _newest(old[0] + births), _newest(old[1] + online)
        is_online = {tags["machine"]: bool(row["online"]) for tags, row in _rows(online)}
        last_ts = {tags["machine"]: int(row["last_ts"]) for tags, row in _rows(heard)}
        if any(tags["machine"] not in last_ts for tags, _ in _rows(births)):
            # Data written before the `heard` points existed: scan the channels.
            (last,) = self.query(
                'SELECT last("seq") FROM state, count, energy, telemetry GROUP BY machine'
            )
            for tags, row in _rows(last):
                m = tags["machine"]
                last_ts[m] = max(last_ts.get(m, 0), _ms(row["time"]))
        out = []
        for tags, row in _rows(births):
            m = tags["machine"]
            out.append(
                MachineInfo(
                    machine=m, enterprise=tags["enterprise"], site=tags["site"], area=tags["area"], line=tags["line"],
                    kind=row.get("kind") or "generic", position=int(row.get("position") or 0),
                    line_length=int(row.get("line_length") or 1), ideal_cycle_s=float(row.get("ideal_cycle_s") or 0.0),
                    connectivity=row.get("connectivity") or "full",
                    power_kw=json.loads(row["power_kw"]) if row.get("power_kw") else None,
                    online=is_online.get(m, False), last_ts=last_ts.get(m, 0), birth_ts=_ms(row["time"]),
                )
            )  # fmt: skip
        return sorted(out, key=lambda i: (i.area, i.line, i.position, i.machine))

    def states(
        self, t0: int, t1: int, machine: str | None = None, among: list[str] | None = None
    ) -> dict[str, list[tuple[int, str, str]]]:
        only = _only(machine, among)
        before, inside = self.query(
            f'SELECT last("state") AS state, "reason" FROM state WHERE {only}time < {t0}ms GROUP BY machine;'
            f'SELECT "state", "reason" FROM state WHERE {only}time >= {t0}ms AND time < {t1}ms GROUP BY machine'
        )
        out: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for tags, row in _rows(before) + _rows(inside):
            out[tags["machine"]].append((_ms(row["time"]), row["state"], row.get("reason") or ""))
        return dict(out)

    def last_changes(
        self, t: int, machine: str | None = None, among: list[str] | None = None
    ) -> dict[str, tuple[int, str, str]]:
        only = _only(machine, among)
        (rows,) = self.query(
            f'SELECT last("state") AS state, "reason" FROM state WHERE {only}time < {t}ms GROUP BY machine'
        )
        return {
            tags["machine"]: (_ms(r["time"]), r["state"], r.get("reason") or "")
            for tags, r in _rows(rows)
        }

    def state_hours(self, h0: int, h1: int) -> dict[str, dict[str, float]]:
        if h1 - h0 <= RAW_SUM_HOURS * 3_600_000:
            fields = ", ".join(f'"{s}"' for s in STATES)
            (rows,) = self.query(
                f"SELECT {fields} FROM {self.m('state_hours')} WHERE time >= {h0}ms AND time < {h1}ms GROUP BY machine"
            )
            out: dict[str, dict[str, float]] = {}
            for tags, r in _rows(rows):  # each machine's hours in time order
                mine = out.setdefault(tags["machine"], dict.fromkeys(STATES, 0.0))
                for s in STATES:
                    mine[s] += float(r[s] or 0.0)
            return out
        sums = ", ".join(f'sum("{s}") AS "{s}"' for s in STATES)
        (rows,) = self.query(
            f"SELECT {sums} FROM {self.m('state_hours')} WHERE time >= {h0}ms AND time < {h1}ms GROUP BY machine"
        )
        return {tags["machine"]: {s: float(r[s] or 0.0) for s in STATES} for tags, r in _rows(rows)}

    def changes_of(self, machine: str, t: int) -> list[Change]:
        """The rollup's view of one machine: changes with ts >= t after the newest before t."""
        before, after = self.query(
            f'SELECT last("state") AS state, "seq", "reason" FROM state WHERE machine = {_lit(machine)} AND time < {t}ms;'
            f'SELECT "state", "seq", "reason" FROM state WHERE machine = {_lit(machine)} AND time >= {t}ms'
        )
        out = [
            (_ms(r["time"]), int(r["seq"] or 0), r["state"], r.get("reason") or "")
            for _, r in _rows(before) + _rows(after)
        ]
        if not _rows(before) and self.r:
            # Its newest change before the new ones may have expired with the raw records (a
            # machine in one state for longer than the raw retention): its `_latest` point
            # (not yet moved by this batch) still says it, so that interval is closed in
            # the rollup. Its hour's earlier changes are gone: a rebuild from there on
            # counts that hour from this change only (less than an hour of one machine).
            got = self.latest("state", machine).get(machine)
            if got is not None:
                us, seq, f = got
                change = (us // 1000, seq, f["state"], f.get("reason") or "")
                if change[:2] not in {c[:2] for c in out}:
                    out = sorted([change, *out]) if us >= t * 1000 else [change, *out]
        return out

    def loss_hours(self, h0: int, h1: int) -> dict[tuple[str, str], float]:
        (rows,) = self.query(
            f'SELECT sum("seconds") AS s FROM {self.m("loss_hours")} WHERE time >= {h0}ms AND time < {h1}ms '
            "GROUP BY state, reason"
        )
        return {
            (tags["state"], "" if tags["reason"] == "-" else tags["reason"]): float(r["s"] or 0.0)
            for tags, r in _rows(rows)
        }

    def counter_at(
        self, channel: str, t: int, machine: str | None = None, among: list[str] | None = None
    ) -> dict[str, tuple[int, dict[str, float]]]:
        only = _only(machine, among)
        if channel == "count":
            (rows,) = self.query(
                f'SELECT last("total") AS total, "good", "scrap", "ideal_s" FROM count WHERE {only}time < {t + 1}ms GROUP BY machine'
            )
            out: dict[str, tuple[int, dict[str, float]]] = {}
            for tags, r in _rows(rows):
                values = {"total": r["total"], "good": r["good"], "scrap": r["scrap"]}
                if r.get("ideal_s") is not None:  # issue 12: a line with products
                    values["ideal_s"] = r["ideal_s"]
                out[tags["machine"]] = (_ms(r["time"]), values)
            return out
        if channel == "energy":
            (rows,) = self.query(
                f'SELECT last("energy_kwh") AS energy_kwh FROM energy WHERE {only}time < {t + 1}ms GROUP BY machine'
            )
            return {
                tags["machine"]: (_ms(r["time"]), {"energy_kwh": r["energy_kwh"]})
                for tags, r in _rows(rows)
            }
        raise ValueError(f"not a cumulative channel: {channel}")

    def samples(self, machine: str, t0: int, t1: int, every_ms: int = 0) -> list[tuple[int, float]]:
        where = f"machine = {_lit(machine)} AND time >= {t0}ms AND time < {t1}ms"
        if every_ms > 0:
            (rows,) = self.query(
                f'SELECT mean("power_kw") AS p FROM telemetry WHERE {where} GROUP BY time({every_ms}ms) fill(none)'
            )
        else:
            (rows,) = self.query(f'SELECT "power_kw" AS p FROM telemetry WHERE {where}')
        return [(_ms(r["time"]), float(r["p"])) for _, r in _rows(rows)]

    def process_values(self, machine: str, name: str, t0: int, t1: int) -> list[tuple[int, float]]:
        # The name goes into the query as a field key: only the contract's snake_case names.
        if not PROCESS_VALUE_NAME.match(name):
            raise ValueError(f"not a process value name: {name!r}")
        where = f"machine = {_lit(machine)} AND time >= {t0}ms AND time < {t1}ms"
        (rows,) = self.query(f'SELECT "{name}" AS v FROM telemetry WHERE {where}')
        return [(_ms(r["time"]), float(r["v"])) for _, r in _rows(rows) if r.get("v") is not None]

    def energy_buckets(self, t0: int, t1: int, every_ms: int) -> dict[str, list[tuple[int, float]]]:
        (rows,) = self.query(
            f'SELECT last("energy_kwh") AS e FROM energy WHERE time >= {t0}ms AND time < {t1}ms '
            f"GROUP BY time({every_ms}ms), machine fill(none)"
        )
        out: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for tags, r in _rows(rows):
            out[tags["machine"]].append((_ms(r["time"]), float(r["e"])))
        return {m: sorted(v) for m, v in out.items()}

    def readings_of(self, machine: str, t: int) -> list[Reading]:
        """The meter rollup's view of one machine: readings with ts >= t after the newest
        before t."""
        before, after = self.query(
            f'SELECT last("energy_kwh") AS energy_kwh, "seq" FROM energy WHERE machine = {_lit(machine)} AND time < {t}ms;'
            f'SELECT "energy_kwh", "seq" FROM energy WHERE machine = {_lit(machine)} AND time >= {t}ms'
        )
        out = [
            (_ms(r["time"]), int(r["seq"] or 0), float(r["energy_kwh"]))
            for _, r in _rows(before) + _rows(after)
        ]
        if self.r and not _rows(before) and t % QUARTER_MS == 0:
            # The reading before t may have expired with the raw records: the newest reading
            # of a quarter before t is kept (`energy_ends`), and that is the newest before t.
            kept = self.counter_ends("energy", t - 1, machine).get(machine)
            if kept is not None:
                out.insert(0, (kept[0], int(kept[2]), float(kept[1]["energy_kwh"])))
        return out

    def counter_ends(
        self,
        channel: str,
        t: int,
        machine: str | None = None,
        among: list[str] | None = None,
        since_ms: int | None = None,
    ) -> dict[str, tuple[int, dict[str, float], int]]:
        """Each machine's newest `channel` reading with ts <= t among the readings kept at
        quarter ends (those from since_ms on): exact when t + 1 is a quarter's start (a range
        on whole quarters), the newest reading before t's quarter otherwise.
        {machine: (ts ms, fields, seq)}."""
        only = _only(machine, among)
        fields = ", ".join(f'"{f}"' for f in LATEST[channel])
        lo = "" if since_ms is None else f"time >= {since_ms}ms AND "
        (rows,) = self.query(
            f'SELECT last("us") AS us, "seq", {fields} FROM {self.m(channel + "_ends")} '
            f"WHERE {only}{lo}time < {floor_quarter(t + 1)}ms GROUP BY machine"
        )
        return {
            tags["machine"]: (
                int(r["us"]) // 1000,
                {
                    f: r[f]
                    for f in LATEST[channel]
                    if r.get(f) is not None or f not in OPTIONAL_FIELDS
                },
                int(r["seq"] or 0),
            )
            for tags, r in _rows(rows)
        }

    def ends_newest(self, channel: str, since_ms: int) -> dict[str, int]:
        """Each machine's newest quarter-end point from since_ms on: its raw time (us)."""
        (rows,) = self.query(
            f'SELECT last("us") AS us FROM {self.m(channel + "_ends")} '
            f"WHERE time >= {since_ms}ms GROUP BY machine"
        )
        return {tags["machine"]: int(r["us"]) for tags, r in _rows(rows)}

    def quarter_newest(self, wanted: list[tuple[str, str, int]]) -> dict[tuple[str, str, int], Any]:
        """The newest raw record of each (machine, channel, quarter start ms), as
        (us, seq, fields); one request."""
        if not wanted:
            return {}
        stmts = []
        for m, ch, q in wanted:
            fields = ", ".join(f'"{f}"' for f in LATEST[ch] if f != LATEST[ch][0])
            sel = f'last("{LATEST[ch][0]}") AS {LATEST[ch][0]}' + (f", {fields}" if fields else "")
            stmts.append(
                f'SELECT {sel}, "seq" FROM {ch} WHERE machine = {_lit(m)} '
                f"AND time >= {q}ms AND time < {q + QUARTER_MS}ms"
            )
        out: dict[tuple[str, str, int], Any] = {}
        for key, series in zip(wanted, self.query(";".join(stmts)), strict=True):
            for _, r in _rows(series):
                ch = key[1]
                out[key] = (
                    int(r["time"]),
                    int(r["seq"] or 0),
                    {
                        f: r.get(f)
                        for f in LATEST[ch]
                        if r.get(f) is not None or f not in OPTIONAL_FIELDS
                    },
                )
        return out

    def metered(self) -> list[str]:
        (rows,) = self.query('SELECT last("energy_kwh") FROM energy GROUP BY machine')
        return sorted(tags["machine"] for tags, _ in _rows(rows))

    def newest(self, channel: str) -> Latest:
        """Each machine's newest raw `channel` record (a scan of every series: for the build)."""
        (rows,) = self.query(f"{_NEWEST[channel]} GROUP BY machine")
        return {
            tags["machine"]: (
                int(r["time"]),
                int(r["seq"] or 0),
                {
                    f: r[f]
                    for f in LATEST[channel]
                    if r.get(f) is not None or f not in OPTIONAL_FIELDS
                },
            )
            for tags, r in _rows(rows)
        }

    def latest(
        self, channel: str, machine: str | None = None, since_us: int | None = None
    ) -> Latest:
        """Each machine's newest `channel` record from its `_latest` points (those from
        since_us on: see `anchor`)."""
        only = _where(f"machine = {_lit(machine)}" if machine else "", _since(since_us))
        fields = ", ".join(f'"{f}"' for f in LATEST[channel])
        (rows,) = self.query(
            f'SELECT last("us") AS us, "seq", {fields} FROM {self.m(channel + "_latest")} '
            f"{only}GROUP BY machine"
        )
        return {
            tags["machine"]: (
                int(r["us"]),
                int(r["seq"] or 0),
                {
                    f: r.get(f)
                    for f in LATEST[channel]
                    if r.get(f) is not None or f not in OPTIONAL_FIELDS
                },
            )
            for tags, r in _rows(rows)
        }

    def heard(self, since_us: int | None = None) -> dict[str, int]:
        """Each machine's `heard` point: the newest ts the writers stored (from the points
        since since_us on: see `anchor`)."""
        (rows,) = self.query(
            f'SELECT last("last_ts") AS last_ts FROM {self.m("heard")} '
            f"{_where(_since(since_us))}GROUP BY machine"
        )
        return {tags["machine"]: int(r["last_ts"]) for tags, r in _rows(rows)}

    def latest_complete(self) -> bool:
        (rows,) = self.query(f'SELECT last("complete") FROM {self.m("latest_complete")}')
        return bool(_rows(rows))

    def meter_rollup_complete(self) -> bool:
        (rows,) = self.query(f'SELECT last("complete") FROM {self.m("meter_rollup")}')
        return bool(_rows(rows))

    def restamped(self, since_us: int) -> bool:
        """Whether a writer wrote every machine's bookkeeping points again since since_us."""
        (rows,) = self.query(
            f'SELECT last("done") FROM {self.m("restamped")} WHERE time >= {since_us}u'
        )
        return bool(_rows(rows))

    def quarters(self, q0: int, q1: int) -> dict[str, list[tuple[int, float]]]:
        (rows,) = self.query(
            f'SELECT "kwh" FROM {self.m("energy_quarters")} WHERE time >= {q0}ms AND time < {q1}ms GROUP BY machine'
        )
        out: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for tags, r in _rows(rows):
            out[tags["machine"]].append((_ms(r["time"]), float(r["kwh"])))
        return dict(out)

    def quarter_sums(self, q0: int, q1: int, machines: list[str] | None) -> dict[int, float]:
        """Summed by the server per quarter (a week of 225 machines: 672 rows, not 150,000);
        `machines` None: every machine."""
        only = f"machine =~ {_one_of(machines)} AND " if machines is not None else ""
        (rows,) = self.query(
            f'SELECT sum("kwh") AS kwh FROM {self.m("energy_quarters")} WHERE {only}time >= {q0}ms AND time < {q1}ms '
            f"GROUP BY time({QUARTER_MS}ms) fill(none)"
        )
        return {_ms(r["time"]): float(r["kwh"]) for _, r in _rows(rows)}

    def max_seq(self) -> dict[str, int]:
        states, others = self.query(
            'SELECT max("seq") FROM state WHERE "inferred" = 0 GROUP BY machine;'
            'SELECT max("seq") FROM count, energy, telemetry, material, "order" GROUP BY machine'
        )
        out: dict[str, int] = {}
        for tags, r in _rows(states) + _rows(others):
            out[tags["machine"]] = max(out.get(tags["machine"], 0), int(r["max"] or 0))
        return out

    def deliveries(self, t0: int, t1: int, machine: str | None = None) -> list[dict[str, Any]]:
        """Material deliveries (issue 12) in [t0, t1), in time order (the store's shape)."""
        only = f"machine = {_lit(machine)} AND " if machine else ""
        (rows,) = self.query(
            f"SELECT * FROM material WHERE {only}time >= {t0}ms AND time < {t1}ms GROUP BY machine"
        )
        out = [
            {
                "ts": _ms(r["time"]),
                "seq": int(r["seq"]),
                "material": r["material"],
                "supplier": r["supplier"],
                "ordered": int(r["ordered"]),
                "delivered": int(r["delivered"]),
                "late": bool(r["late"]),
                "short": bool(r["short"]),
                "level": int(r["level"]),
                "lead_time_s": float(r["lead_time_s"]),
                "machine": tags["machine"],
            }
            for tags, r in _rows(rows)
        ]
        return sorted(out, key=lambda d: (d["ts"], d["seq"]))

    def order_events(self, t1: int, line: str | None = None) -> list[dict[str, Any]]:
        """Work-order events (issue 12) before t1, in time order (the store's shape)."""
        only = f"line = {_lit(line)} AND " if line else ""
        (rows,) = self.query(
            f'SELECT * FROM "order" WHERE {only}time < {t1}ms GROUP BY machine, line'
        )
        out = []
        for tags, r in _rows(rows):
            e: dict[str, Any] = {
                "ts": _ms(r["time"]),
                "seq": int(r["seq"]),
                "order_id": r["order_id"],
                "product": r["product"],
                "event": r["event"],
                "machine": tags["machine"],
                "line": tags["line"],
            }
            for k in ("quantity", "release_ts", "due_ts", "good", "scrap", "start_ts", "finish_ts"):
                if r.get(k) is not None:
                    e[k] = int(r[k])
            out.append(e)
        return sorted(out, key=lambda d: (d["ts"], d["seq"]))


def _latest_line(
    channel: str,
    machine: str,
    us: int,
    seq: int,
    fields: dict[str, Any],
    kind: str = "latest",
    *,
    at_us: int,
) -> str:
    """A `<channel>_latest` point at `at_us` (see `anchor`: a newer record overwrites it), or
    with kind "ends" a `<channel>_ends` point at `at_us` (its quarter's start); numbers as
    floats, as the raw points hold them."""
    values = ",".join(
        f"{lineproto.key(f)}="
        + (
            '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if isinstance(v, str)
            else repr(float(v))
        )
        for f, v in fields.items()
        if v is not None
    )
    return f"{channel}_{kind},machine={lineproto.tag(machine)} us={float(us)!r},seq={float(seq)!r},{values} {at_us}"


def quarter_lines(rows: list[QuarterRow]) -> list[str]:
    """One energy_quarters point per machine and quarter (a rewrite replaces it)."""
    return [
        f"energy_quarters,machine={lineproto.tag(m)} kwh={float(kwh)!r} {q * 1000}"
        for m, q, kwh in rows
    ]


def parse_results(data: dict[str, Any], url: str) -> list[Series]:
    """/query's JSON as one Series per statement; a statement's error is a StoreError."""
    out: list[Series] = []
    for result in data.get("results", []):
        if "error" in result:
            raise StoreError(f"{url}: query failed: {result['error']}")
        out.append(result.get("series", []))
    return out


class InfluxQLQueries:
    """The Store query methods, for a store that has an InfluxQLReader in `self.reader`,
    and the hour rollup its writes keep (see shopfloor.store.rollup)."""

    reader: InfluxQLReader
    _rollup: HourRollup | None = None
    _meters: MeterRollup | None = None
    # Whether this store writes the meter rollup. InfluxDB 2.x does not (yet): its writes
    # spool and return while the server is away, and the rollup's reads (a cold cache, a
    # late reading) would fail them, or rebuild quarters before the spooled readings are in.
    keeps_quarters = False
    # The meter rollup holds every quarter since the first reading (its `meter_rollup` point
    # is written with the last of a full build): until then quarters come from the readings.
    _meters_complete = False
    _heard: dict[str, int]  # machine -> newest ts written, set in __init__
    _no_rollup = False
    # Whether this store keeps each machine's newest state change, count and meter reading as
    # `<channel>_latest` points (InfluxDB 1.x: its writes raise and are retried whole, so the
    # writer may read the store to start from). A refresh reads the state now and the counters
    # at the range's end from them: the unbounded last() over every series of a channel cost
    # 15-150 ms each on a week of 225 machines, a dashboard refresh made three to five.
    keeps_latest = False
    _latest: dict[tuple[str, str], int] | None = None  # (machine, channel) -> newest point's us
    _latest_complete = False
    _heard_loaded = False
    # Issue 15: the newest count and meter reading's time (us) per (machine, channel) among
    # the `<channel>_ends` points written (None: not read yet), and the hour the markers
    # (latest_complete, meter_rollup) were last stamped at: they are written again every hour,
    # so that the rollup retention never expires them under a running writer.
    _ends_seen: dict[tuple[str, str], int] | None = None
    # The rollup retention in ms as the server says (None: forever or unknown; set by the
    # store): it picks `anchor`'s period. The anchor this writer last wrote every machine's
    # bookkeeping points at, and the reads' window as last looked at (monotonic s, since us).
    rollup_keep_ms: int | None = None
    _anchor_at = -1
    _window: tuple[float, int | None] | None = None
    # The raw write of this batch went to the spool (InfluxDB 2.x, the server away): the
    # writing again at a new anchor, which reads the server, waits for a later batch.
    _away = False
    url: str

    def anchor_us(self) -> tuple[int, int]:
        return anchor(self.rollup_keep_ms)

    def bookkeeping_since(self) -> int | None:
        """Where reads of the bookkeeping points (`heard`, `<channel>_latest`) may start: the
        previous anchor, once a writer's `restamped` point there says that every machine's
        were written again since; None (read all of them) otherwise, e.g. a store of an older
        version. Looked at again after a minute."""
        now = time.monotonic()
        if self._window is not None and now - self._window[0] < 60.0:
            return self._window[1]
        at, period = self.anchor_us()
        since = at - period if self.reader.restamped(at - period) else None
        self._window = (now, since)
        return since

    def _restamp_lines(self, at: int) -> list[str]:
        """Every machine's bookkeeping points again at `at` (a new anchor), as stored and
        remembered: within the readers' window even when a machine has been silent."""
        since = self.bookkeeping_since()
        for m, ts in self.reader.heard(since).items():
            self._heard[m] = max(ts, self._heard.get(m, 0))
        self._heard_loaded = True
        out = [
            f"heard,machine={lineproto.tag(m)} last_ts={float(ts)} {at}"
            for m, ts in self._heard.items()
        ]
        if self.keeps_latest and self.reader.latest_complete():
            for ch in LATEST:
                for m, (us, seq, fields) in self.reader.latest(ch, since_us=since).items():
                    out.append(_latest_line(ch, m, us, seq, fields, at_us=at))
            out.append(f"latest_complete complete=1.0 {at}")
        if self.keeps_quarters and (self._meters_complete or self.reader.meter_rollup_complete()):
            out.append(f"meter_rollup complete=1.0 {at}")
        return out

    def derived_lines(self, records: list[Record]) -> list[str]:
        """What to write once `records` are stored (call it after the raw write succeeded: a
        rollup rebuild reads the raw changes back): the state_hours points, and each machine's
        newest ts in one `heard` point (one series scan instead of four for machines())."""
        at, _ = self.anchor_us()
        lines: list[str] = []
        restamp = at != self._anchor_at and not self._away
        if restamp:
            try:
                lines += self._restamp_lines(at)
            except NoInfluxQL:  # a write-only target: nothing reads them
                restamp = False
                self._anchor_at = at
        if self.keeps_latest and not self._heard_loaded:
            # A restarted writer starts from the stored newest ts: a late batch (a gap filled
            # after the restart) must not move a machine's `heard` back, or every range would
            # end that machine's time there (a report lost a station's last 17 minutes).
            try:
                for m, ts in self.reader.heard(self.bookkeeping_since()).items():
                    self._heard[m] = max(ts, self._heard.get(m, 0))
            except NoInfluxQL:
                self.keeps_latest = False
            self._heard_loaded = True
        touched = set()
        for r in records:
            if r.channel != "status" and r.ts > self._heard.get(r.machine, 0):
                self._heard[r.machine] = r.ts
                touched.add(r.machine)
        # A batch's own points one microsecond after the anchor, the points written again
        # (`_restamp_lines`) at it: another writer's restamp, read before this write and
        # written after it, then never overwrites a newer value (same series and time) with
        # an older one; last() takes the later point.
        lines += [
            f"heard,machine={lineproto.tag(m)} last_ts={float(self._heard[m])} {at + FRESH_US}"
            for m in touched
        ]
        if self.reader.r and not self._no_rollup:  # a store with the rollups policy (bucket)
            try:
                lines += self.ends_lines(records)
            except NoInfluxQL:  # a write-only target: nothing could read them
                self._no_rollup = True
        if self.keeps_latest:
            try:
                lines += self.latest_lines(records, at)
            except NoInfluxQL:
                self.keeps_latest = False
        if restamp:
            # After every point it vouches for (one request: written in this order).
            lines.append(f"restamped done=1.0 {at}")
            self._anchor_at = at
        new = lineproto.new_changes(records)
        readings: dict[str, list[Reading]] = {}
        for r in records:
            if r.channel == "energy" and self.keeps_quarters:
                readings.setdefault(r.machine, []).append(
                    (r.ts, r.seq or 0, float(r.payload["energy_kwh"]))
                )
        if (not new and not readings) or self._no_rollup:
            return lines
        if self._rollup is None:
            self._rollup = HourRollup(self.reader.changes_of)
        try:
            if new:
                lines += lineproto.rollup_lines(self._rollup.apply(new))
            if readings:
                lines += self._meter_lines(readings)
            return lines
        except NoInfluxQL:
            # A write-only target: nothing here could read the rollup either.
            log.warning("%s answers no InfluxQL: no state_hours rollup is written", self.url)
            self._no_rollup = True
            return lines
        except BaseException:
            self.derived_failed()
            raise

    def _meter_lines(self, readings: dict[str, list[Reading]]) -> list[str]:
        """kWh per machine and quarter for the new readings (shopfloor.store.meter_rollup, as
        the SQLite store keeps them). The first write of a store whose rollup is not yet
        complete (data written before it existed) builds every machine's quarters from its
        readings, these included: a one-time read of all the readings."""
        if self._meters is None:
            self._meters = MeterRollup(self.reader.readings_of)
        if not self._meters_complete and not self.reader.meter_rollup_complete():
            return self.meter_rollup_build()
        self._meters_complete = True
        return quarter_lines(self._meters.apply(readings))

    def meter_rollup_build(self) -> list[str]:
        """Every metered machine's quarters from its stored readings, then the point that
        says the rollup is complete (the lines to write, in that order)."""
        if self._meters is None:
            self._meters = MeterRollup(self.reader.readings_of)
        rows: list[QuarterRow] = []
        for m in self.reader.metered():
            rows += self._meters.rebuild(m, 0)
        return [*quarter_lines(rows), f"meter_rollup complete=1.0 {self.anchor_us()[0]}"]

    def ends_lines(self, records: list[Record]) -> list[str]:
        """The `<channel>_ends` points the batch moves: per machine and quarter hour, its
        newest count and meter reading (stamped at the quarter's start, its own time in
        `us`), kept as long as the rollups, so a range on whole quarters older than the raw
        retention still has its counters at both ends. A batch's reading newer than every
        one written before is its quarter's newest; an older one (a gap filled late) is
        checked against the raw records of its quarter (one request for the batch)."""
        if self._ends_seen is None:
            seen: dict[tuple[str, str], int] = {}
            # The last two days' points only (every quarter's since the first would be a long
            # read); a machine without any there starts cold: its next readings are taken as
            # the newest (a reading more than two days late might then overwrite a newer one).
            since = int(time.time() * 1000) - 2 * DAY_MS
            for ch in ENDS:
                for m, us in self.reader.ends_newest(ch, since).items():
                    seen[(m, ch)] = us
            self._ends_seen = seen
        seen = self._ends_seen
        newest: dict[tuple[str, str, int], Record] = {}
        for r in records:
            if r.channel in ENDS:
                k = (r.machine, r.channel, floor_quarter(r.ts))
                got = newest.get(k)
                if got is None or lineproto.ts_us(r) >= lineproto.ts_us(got):
                    newest[k] = r
        lines = []
        late = []
        for (m, ch, q), r in newest.items():
            us = lineproto.ts_us(r)
            if us >= seen.get((m, ch), -1):
                fields = {
                    f: r.payload[f]
                    for f in LATEST[ch]
                    if f not in OPTIONAL_FIELDS or f in r.payload
                }
                lines.append(_latest_line(ch, m, us, r.seq or 0, fields, "ends", at_us=q * 1000))
            else:
                late.append((m, ch, q))
        for (m, ch, q), (us, seq, fields) in self.reader.quarter_newest(late).items():
            lines.append(_latest_line(ch, m, us, seq, fields, "ends", at_us=q * 1000))
        for (m, ch, _), r in newest.items():
            seen[(m, ch)] = max(seen.get((m, ch), -1), lineproto.ts_us(r))
        return lines

    def latest_lines(self, records: list[Record], at: int) -> list[str]:
        """The `_latest` points the batch moves (call it after the raw write succeeded). The
        first write of a store without them (data written before they existed) builds them
        from the raw records, then writes the point that says they are complete."""
        built: list[str] = []
        if self._latest is None:
            latest: dict[tuple[str, str], int] = {}
            complete = self.reader.latest_complete()
            since = self.bookkeeping_since() if complete else None
            for ch in LATEST:
                got = self.reader.latest(ch, since_us=since) if complete else self.reader.newest(ch)
                for m, (us, seq, fields) in got.items():
                    latest[(m, ch)] = us
                    if not complete:
                        built.append(_latest_line(ch, m, us, seq, fields, at_us=at))
            if not complete:
                built.append(f"latest_complete complete=1.0 {at}")
            self._latest = latest
        moved: dict[tuple[str, str], Record] = {}
        for r in records:
            if r.channel not in LATEST:
                continue
            # The raw point's time (ms and seq % 1000 in microseconds) orders records as
            # last() does; an equal time is the same point, rewritten by the later record.
            us = lineproto.ts_us(r)
            if us >= self._latest.get((r.machine, r.channel), -1):
                self._latest[(r.machine, r.channel)] = us
                moved[(r.machine, r.channel)] = r
        lines = [
            _latest_line(
                ch, m, lineproto.ts_us(r), r.seq or 0,
                {
                    f: r.payload.get(f, "") if f == "reason" else r.payload[f]
                    for f in LATEST[ch]
                    if f not in OPTIONAL_FIELDS or f in r.payload
                },
                at_us=at + FRESH_US,  # after any restamp (see derived_lines)
            )
            for (m, ch), r in moved.items()
        ]  # fmt: skip
        # The build's points first: a batch's newer record is written after them.
        return built + lines

    def _latest_split(
        self, channel: str, before_us: int, machine: str | None
    ) -> tuple[Latest, list[str] | None]:
        """(the machines whose newest `channel` record is older than `before_us`, with it: the
        state now, the counters at a range's end; the other machines, whose records before it
        are read raw). ({}, None) without `_latest` points: every machine is read raw."""
        if not self.keeps_latest:
            return {}, None
        if not self._latest_complete:
            self._latest_complete = self.reader.latest_complete()
            if not self._latest_complete:
                return {}, None
        got = self.reader.latest(channel, machine, self.bookkeeping_since())
        kept = {m: v for m, v in got.items() if v[0] < before_us}
        return kept, [m for m in got if m not in kept]

    def derived_failed(self) -> None:
        """The derived points were not stored: rebuild the rollups from the raw data and
        write every machine's heard point again next time."""
        self._heard.clear()
        self._heard_loaded = False
        self._latest = None
        self._ends_seen = None
        self._anchor_at = -1
        self._window = None
        if self._rollup is not None:
            self._rollup.forget()
        if self._meters is not None:
            self._meters.forget()
        self._meters_complete = False

    def machines(self) -> list[MachineInfo]:
        return self.reader.machines(self.bookkeeping_since())

    def states(
        self, t0: int, t1: int, machine: str | None = None
    ) -> dict[str, list[tuple[int, str, str]]]:
        # A machine whose newest change is before t0 has no change in [t0, t1): that one only.
        kept, rest = self._latest_split("state", t0 * 1000, machine)
        out = {
            m: [(us // 1000, f["state"], f.get("reason") or "")] for m, (us, _, f) in kept.items()
        }
        if rest is None or rest:
            out.update(self.reader.states(t0, t1, machine, rest))
        return out

    def counter_at(
        self, channel: str, t: int, machine: str | None = None
    ) -> dict[str, tuple[int, dict[str, float]]]:
        if channel not in LATEST:
            return self.reader.counter_at(channel, t, machine)
        kept, rest = self._latest_split(channel, (t + 1) * 1000, machine)
        out = {m: (us // 1000, fields) for m, (us, _, fields) in kept.items()}
        if rest is None or rest:
            out.update(self.reader.counter_at(channel, t, machine, rest))
            if self._raw_expired_before(t + 1):
                # A machine whose readings before t expired: its newest kept at a quarter's
                # end (the one before t, when t + 1 starts a quarter). Raw records, where
                # they are, are at least as new: retention drops the oldest first.
                for m, (ts, fields) in self._ends_at(channel, t, machine, rest).items():
                    if m not in out or ts > out[m][0]:
                        out[m] = (ts, fields)
        return out

    def _ends_at(
        self, channel: str, t: int, machine: str | None, among: list[str] | None
    ) -> dict[str, tuple[int, dict[str, float]]]:
        """counter_ends over the hour before t (a last() over every quarter before t would
        grow with the store: 21,600 points a day for 225 machines), then over the 8 days
        before it, then over all of them, each for the machines heard of but not found yet
        (silent for a while before t: a night, a closed week)."""
        got = self.reader.counter_ends(channel, t, machine, among, since_ms=t + 1 - HOUR_MS)
        want = (
            set(among) if among is not None
            else {machine} if machine else set(self.reader.heard(self.bookkeeping_since()))
        )  # fmt: skip
        for since in (t + 1 - 8 * DAY_MS, None):
            missing = sorted(want - set(got))
            if not missing:
                break
            got.update(self.reader.counter_ends(channel, t, None, missing, since_ms=since))
        return {m: (ts, fields) for m, (ts, fields, _) in got.items()}

    # The raw retention in ms as the server says (None: forever; -1: unknown, so every
    # counter read before now looks at the quarter ends too). Set by the store.
    raw_keep_ms: int | None = None

    def _raw_expired_before(self, t: int) -> bool:
        """Whether raw records before t (epoch ms) may have expired."""
        if not self.reader.r or self.raw_keep_ms is None:
            return False
        return self.raw_keep_ms < 0 or t < time.time() * 1000 - self.raw_keep_ms

    def last_changes(self, t: int, machine: str | None = None) -> dict[str, tuple[int, str, str]]:
        kept, rest = self._latest_split("state", t * 1000, machine)
        out = {m: (us // 1000, f["state"], f.get("reason") or "") for m, (us, _, f) in kept.items()}
        if rest is None or rest:
            out.update(self.reader.last_changes(t, machine, rest))
        return out

    def state_hours(self, h0: int, h1: int) -> dict[str, dict[str, float]]:
        return self.reader.state_hours(h0, h1)

    def loss_hours(self, h0: int, h1: int) -> dict[tuple[str, str], float]:
        return self.reader.loss_hours(h0, h1)

    def samples(self, machine: str, t0: int, t1: int, every_ms: int = 0) -> list[tuple[int, float]]:
        return self.reader.samples(machine, t0, t1, every_ms)

    def process_values(self, machine: str, name: str, t0: int, t1: int) -> list[tuple[int, float]]:
        return self.reader.process_values(machine, name, t0, t1)

    def energy_buckets(self, t0: int, t1: int, every_ms: int) -> dict[str, list[tuple[int, float]]]:
        return self.reader.energy_buckets(t0, t1, every_ms)

    def _quarters_kept(self) -> bool:
        if self.keeps_quarters and not self._meters_complete:
            self._meters_complete = self.reader.meter_rollup_complete()
        return self._meters_complete

    def energy_quarters(self, q0: int, q1: int) -> dict[str, list[tuple[int, float]]]:
        if self._quarters_kept():
            return self.reader.quarters(q0, q1)
        # Data written before the meter rollup: computed from the bucketed readings.
        from shopfloor.store.report import quarters_from_readings

        return {m: sorted(rows.items()) for m, rows in quarters_from_readings(self, q0, q1).items()}

    def energy_quarter_sums(self, q0: int, q1: int, machines: list[str]) -> dict[int, float]:
        if not machines:
            return {}
        if self._quarters_kept():
            return self.reader.quarter_sums(q0, q1, machines)
        from shopfloor.store.report import sum_quarters

        return sum_quarters(self.energy_quarters(q0, q1), dict.fromkeys(machines, "")).get("", {})

    def max_seq(self) -> dict[str, int]:
        return self.reader.max_seq()

    def deliveries(self, t0: int, t1: int, machine: str | None = None) -> list[dict[str, Any]]:
        return self.reader.deliveries(t0, t1, machine)

    def order_events(self, t1: int, line: str | None = None) -> list[dict[str, Any]]:
        return self.reader.order_events(t1, line)
