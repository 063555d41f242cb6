"""InfluxDB 1.x through its own HTTP API: /write (line protocol) and /query (InfluxQL).

influxdb1://[user:pass@]host:8086/<database>. The database is created when missing.

Retention (issue 15, docs/scaling.md): the raw records go to the database's default retention
policy, the rollups, births and bookkeeping points to the `rollups` policy (created by the
first write; a database written before it gets its rollups copied there, again by each
write until a `migrated` point says the move finished).
`apply_retention` sets both policies' durations (`shopfloor collect --retention
--rollup-retention`).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3

from shopfloor.store import lineproto
from shopfloor.store.base import PermanentStoreError, Record, StoreError
from shopfloor.store.influxql import (
    LATEST,
    ROLLUP_RP,
    InfluxQLQueries,
    InfluxQLReader,
    Series,
    _latest_line,
    _rows,
    parse_results,
)

log = logging.getLogger("shopfloor.store.influx")

# /write answers that mean "this batch, as it is, never": retrying it cannot help. Everything
# else (connection refused, timeouts, 5xx, 401/403/404 of a misconfiguration) is retried.
PERMANENT_STATUS = frozenset({400, 413, 422})
# How often a reader looks again at the retention policies (whether `rollups` exists yet, the
# raw retention): a dashboard may start before the collector has written anything.
LAYOUT_RECHECK_S = 60.0
# Measurements written whole to the rollups policy when an older store first gets it.
_COPIED = "status|state_hours|loss_hours|energy_quarters"
# The point (in the rollups policy) that says that move finished.
MIGRATED = "migrated"
# The copy reads and writes every rollup and birth of the store in one query.
COPY_TIMEOUT_S = 3600.0


def policy_seconds(text: str) -> float | None:
    """An influxd duration as SHOW RETENTION POLICIES gives it ("720h0m0s"); None for 0s
    (infinite)."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total = sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|us|µs|ns|h|m|s)", text))
    return total or None


def policy_clause(seconds: float | None) -> str:
    """DURATION and SHARD DURATION for a retention (None or math.inf: forever), the shard groups as
    influxd picks them for such a duration: an expired shard group is dropped whole, so the
    raw records older than the retention are gone within one shard group's time."""
    if seconds is None or seconds == math.inf:
        return "DURATION INF REPLICATION 1 SHARD DURATION 168h"
    shard = "1h" if seconds < 2 * 86400 else "24h" if seconds <= 180 * 86400 else "168h"
    return f"DURATION {int(seconds)}s REPLICATION 1 SHARD DURATION {shard}"


class Influx1Store(InfluxQLQueries):
    # A failed write raises and is retried whole (no spool), the rollups rebuilt from the
    # stored readings on the retry: the meter rollup's reads are as safe as the hour rollup's.
    keeps_quarters = True
    # For the same reason it keeps each machine's newest state, count and reading (`_latest`).
    keeps_latest = True

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.db = parts.path.strip("/")
        if not self.db:
            raise ValueError(f"{url!r}: name the database: influxdb1://host:8086/<database>")
        self.base = f"http://{parts.hostname}:{parts.port or 8086}"
        self.url = f"influxdb1://{parts.hostname}:{parts.port or 8086}/{self.db}"
        self.auth = {}
        if parts.username:
            self.auth = {"u": unquote(parts.username), "p": unquote(parts.password or "")}
        self.http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=3.0, read=60.0)
        )
        self._db_ready = False
        self._layout_ready = False  # this writer made sure the rollups policy exists
        self._layout_lock = threading.Lock()  # the collector's retention thread and writer
        self._layout_at = -LAYOUT_RECHECK_S
        self.reader = InfluxQLReader(self._run)
        self.reader.layout = self._check_layout
        self._heard: dict[str, int] = {}

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes | None = None,
        timeout: urllib3.Timeout | None = None,
    ) -> Any:
        url = f"{self.base}{path}?{urlencode({**params, **self.auth})}"
        try:
            resp = self.http.request(
                method, url, body=body,
                headers={"Content-Type": "text/plain"} if body else None,
                **({"timeout": timeout} if timeout else {}),
            )  # fmt: skip
        except urllib3.exceptions.HTTPError as exc:
            raise StoreError(f"{self.url}: {exc.__class__.__name__}: {exc}") from None
        if resp.status >= 300:
            text = resp.data.decode(errors="replace")[:300]
            if path == "/write" and resp.status in PERMANENT_STATUS:
                # 400 (a line it cannot parse, a type conflict: "partial write"), 413 (too
                # large), 422: the batch holds a record this server never takes.
                raise PermanentStoreError(f"{self.url}: HTTP {resp.status}: {text}")
            raise StoreError(f"{self.url}: HTTP {resp.status}: {text}")
        return resp

    def _ensure_db(self) -> None:
        if not self._db_ready:
            self._request("POST", "/query", {"q": f'CREATE DATABASE "{self.db}"'})
            self._db_ready = True

    def _policies(self) -> tuple[dict[str, float | None], str]:
        """The database's retention policies (name: seconds, None for forever) and which
        one is the default (where the raw records go)."""
        resp = self._request("POST", "/query", {"q": f'SHOW RETENTION POLICIES ON "{self.db}"'})
        (series,) = parse_results(json.loads(resp.data), self.url)
        rps: dict[str, float | None] = {}
        default = "autogen"
        for _, r in _rows(series):
            rps[r["name"]] = policy_seconds(str(r["duration"]))
            if r.get("default"):
                default = r["name"]
        return rps, default

    def _check_layout(self, force: bool = False) -> None:
        """Where the reads find the rollups, and the raw retention: looked at once a minute."""
        if not force and time.monotonic() - self._layout_at < LAYOUT_RECHECK_S:
            return
        self._ensure_db()
        rps, default = self._policies()
        self._layout_at = time.monotonic()
        if ROLLUP_RP in rps:
            self.reader.r = f'"{ROLLUP_RP}".'
            keep, rollups = rps.get(default), rps[ROLLUP_RP]
            self.raw_keep_ms = None if keep is None else int(keep * 1000)
            self.rollup_keep_ms = None if rollups is None else int(rollups * 1000)
        else:
            self.reader.r = ""  # a store written before issue 15: all in the default policy
            self.raw_keep_ms = None
            keep = rps.get(default)
            self.rollup_keep_ms = None if keep is None else int(keep * 1000)

    def _ensure_layout(self) -> None:
        """The writer's first step: the rollups policy, and an older store's rollups in it."""
        if self._layout_ready:
            return
        with self._layout_lock:
            if not self._layout_ready:
                self._make_layout()

    def _make_layout(self) -> None:
        self._ensure_db()
        rps, default = self._policies()
        if ROLLUP_RP not in rps:
            self._request(
                "POST", "/query",
                {"q": f'CREATE RETENTION POLICY "{ROLLUP_RP}" ON "{self.db}" {policy_clause(None)}'},
            )  # fmt: skip
        # Done again until its `migrated` point, written last, says it finished: a copy that
        # timed out on a big store, or an influxd restarted halfway, must not leave the
        # births and rollups behind for good (the policy exists by then).
        (done,) = self._run(f'SELECT last("done") FROM "{ROLLUP_RP}"."{MIGRATED}"')
        if not _rows(done):
            self._migrate(default)
        self._layout_ready = True
        self._check_layout(force=True)

    def _migrate(self, default: str) -> None:
        """A store written before the rollups policy: its births and rollups copied there
        (SELECT INTO keeps their tags and times), its bookkeeping points (at time 0, which
        no retention policy takes) written again at the current anchor, and then the
        `migrated` point. Each step may be done again: a copy writes the same points, and
        the bookkeeping keeps whichever of the old and the already moved points is newer.
        The counters at quarter ends start with the next write: older ranges read the raw
        readings while they last."""
        self._request(
            "POST", "/query",
            {"db": self.db, "q": f'SELECT * INTO "{ROLLUP_RP}".:MEASUREMENT FROM "{default}"./^(?:{_COPIED})$/ GROUP BY *'},
            timeout=urllib3.Timeout(connect=3.0, read=COPY_TIMEOUT_S),
        )  # fmt: skip
        old = InfluxQLReader(self._run)  # reads the default policy only
        moved = InfluxQLReader(self._run)
        moved.r = f'"{ROLLUP_RP}".'
        at, _ = self.anchor_us()
        heard = old.heard()
        for m, ts in moved.heard().items():
            heard[m] = max(ts, heard.get(m, 0))
        lines = [
            f"heard,machine={lineproto.tag(m)} last_ts={float(ts)} {at}" for m, ts in heard.items()
        ]
        if old.latest_complete():
            for ch in LATEST:
                newest = old.latest(ch)
                for m, got in moved.latest(ch).items():
                    if got[0] >= newest.get(m, got)[0]:
                        newest[m] = got
                for m, (us, seq, fields) in newest.items():
                    lines.append(_latest_line(ch, m, us, seq, fields, at_us=at))
            lines.append(f"latest_complete complete=1.0 {at}")
        if old.meter_rollup_complete():
            lines.append(f"meter_rollup complete=1.0 {at}")
        if lines:
            self._write_rollups(lines)
        self._write_rollups([f"{MIGRATED} done=1.0 {at}"])
        log.info("%s: rollups and bookkeeping moved to the %r policy", self.url, ROLLUP_RP)

    def _restamp_lines(self, at: int) -> list[str]:
        # The `migrated` point too, or the rollup retention would expire it and a later
        # writer would move the old layout's points again.
        return [*super()._restamp_lines(at), f"{MIGRATED} done=1.0 {at}"]

    def apply_retention(self, raw_s: float | None, rollup_s: float | None) -> None:
        """Raw records kept raw_s seconds (the default policy), rollups rollup_s (math.inf:
        forever; None: that policy left as it is, e.g. only the other one was asked): the
        policies altered now, influxd drops expired shard groups by itself."""
        self._ensure_layout()
        _, default = self._policies()
        for name, seconds in ((default, raw_s), (ROLLUP_RP, rollup_s)):
            if seconds is None:
                continue
            self._request(
                "POST", "/query",
                {"q": f'ALTER RETENTION POLICY "{name}" ON "{self.db}" {policy_clause(seconds)}'},
            )  # fmt: skip
        self._check_layout(force=True)

    def _write_rollups(self, lines: list[str]) -> None:
        self._request(
            "POST", "/write", {"db": self.db, "rp": ROLLUP_RP, "precision": "u"},
            "\n".join(lines).encode(),
        )  # fmt: skip

    def write(self, records: list[Record]) -> None:
        if not records:
            return
        self._ensure_layout()
        # Births go with the rollups (kept as long): old ranges need the machine list.
        raw = [r for r in records if r.channel != "status"]
        try:
            body = lineproto.encode(raw)
            births = [lineproto.line(r) for r in records if r.channel == "status"]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise PermanentStoreError(
                f"{self.url}: cannot encode: {exc.__class__.__name__}: {exc}"
            ) from None
        if raw:
            self._request("POST", "/write", {"db": self.db, "precision": "u"}, body)
        if births:
            self._write_rollups(births)
        rollup = self.derived_lines(records)
        if rollup:
            try:
                self._write_rollups(rollup)
            except StoreError:
                self.derived_failed()
                raise

    def _query(self, q: str) -> list[Series]:
        """InfluxQL as given (the reader qualifies the rollups' measurements itself)."""
        return self._run(q)

    def _run(self, q: str) -> list[Series]:
        self._ensure_db()
        resp = self._request("POST", "/query", {"db": self.db, "epoch": "u", "q": q})
        data = json.loads(resp.data)
        return parse_results(data, self.url)

    def close(self) -> None:
        self.http.clear()
