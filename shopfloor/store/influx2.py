"""InfluxDB 2.x / 3.x / 1.8+ through influxdb-client: writes with its SYNCHRONOUS WriteApi and
retries of our own, reads with InfluxQL over /query.

influxdb://host:8086/<bucket>?org=<org>[&rollup_bucket=<name>] (influxdbs:// for TLS); the token
comes from SHOPFLOOR_INFLUX_TOKEN.

Retention (issue 15, docs/scaling.md): the raw records go to <bucket>, whose retention is the
raw one; the rollups, births and bookkeeping points to a second bucket, <bucket>-rollups unless
`rollup_bucket` names another, kept longer, read through a DBRP mapping of the retention
policy name `rollups` on the same database name (so the InfluxQL is that of InfluxDB 1.x).
Without that bucket (a store set up before it, a token that cannot see it) everything goes to
<bucket> as before. `apply_retention` sets both buckets' retention and creates the rollup
bucket, where the token may (compose's init creates it with least-privilege tokens); on a
bucket that already holds births only when the rollup retention was asked (its old rollups
stay behind). The births are then read from both buckets (InfluxQLReader.births_too).

Acknowledgement: write() returns only once exactly its own lines are confirmed by the server
(a 2xx to the requests that carried them) or durably spooled. Every request carries lines of
one write() call only (at most `chunk_lines` of them) and is answered in that call: no batching
across calls and no callbacks, so no late answer to an earlier request (one that timed out, say)
can be counted for a later call, as the batching WriteApi's callbacks could be.

Failures of a request:
- transient (connection refused or reset, a timeout, 5xx, 408, 429): retried with exponential
  backoff from retry_ms (at most max_retry_delay_ms apart) for up to max_retry_time_ms; then
  that chunk and the rest of the call are spooled, and write() returns: the data is durable.
- permanent for a record (400, a partial write included; 413; 422): PermanentStoreError and
  nothing spooled (it would never replay); the caller splits the batch and dead-letters what
  keeps failing. Writes are idempotent, so what a partial write kept is harmless.
- any other 4xx (401 a token, 403, 404 no such bucket): StoreError at once, nothing spooled: a
  configuration error, which the caller's retries outlast once it is fixed.

Spool: one file per chunk, <spool_dir>/<time_ns>-<pid>-<n>.lp (.rollups.lp: for the rollup
bucket), written atomically (a temporary
`.<name>.tmp` in the same folder, fsync, os.replace, fsync of the folder); a temporary left by a
crash held nothing acknowledged and is removed on start. A background thread replays the files,
oldest first, every 5 s (backing off to 60 s while replays fail), and close() once more. A file
the server refuses for good (400/413/422), that cannot be read or that is not line protocol is
moved to the quarantine folder beside the spool (<spool_dir>-quarantine) with a <name>.reason
file, and never blocks the files after it; a transient failure leaves the file for a later round
(when the server does not answer at all, the later files are only checked, not sent).

read_only=True (the dashboard, `shopfloor kpi`, the compose simulator's start): no WriteApi, no
replay thread, no spool folder; write() raises ReadOnlyStoreError.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import urllib3
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS, WritePrecision
from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
from influxdb_client.rest import ApiException

from shopfloor.settings import settings
from shopfloor.store import lineproto
from shopfloor.store.base import PermanentStoreError, ReadOnlyStoreError, Record, StoreError
from shopfloor.store.influxql import (
    ROLLUP_RP,
    InfluxQLQueries,
    InfluxQLReader,
    Series,
    parse_results,
)

log = logging.getLogger("shopfloor.store.influx")

PERMANENT_STATUS = frozenset({400, 413, 422})  # the request's data is refused: never retried
TRANSIENT_STATUS = frozenset({408, 429})  # and every 5xx
REPLAY_EVERY_S = 5.0
REPLAY_MAX_BACKOFF_S = 60.0
LAYOUT_RECHECK_S = 60.0  # how often the rollup bucket, its mapping and the raw retention are
# looked at again (a dashboard may start before the init has made the bucket)
ROLLUP_SPOOL_SUFFIX = ".rollups.lp"

# What every line this store writes looks like: `measurement[,tags] fields timestamp`. A loose
# check (escaped spaces and string fields pass): it tells a spool file of ours from garbage.
_LINE = re.compile(r"[^\s#].* \S*=.* -?\d+\r?")


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """`path` holds all of `data` or does not exist: a temporary file in the same folder,
    fsync, os.replace, fsync of the folder."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _not_line_protocol(data: bytes) -> str | None:
    """Why `data` is no spool file of ours (None: it looks like line protocol)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text: {exc}"
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "empty"
    for i, line in enumerate(lines, 1):
        if "\x00" in line or not _LINE.fullmatch(line):
            return f"line {i} is not line protocol: {line[:120]!r}"
    return None


def _classify(exc: Exception) -> tuple[str, str, float]:
    """(kind, detail, retry_after_s) of a failed write request; kind is "permanent" (the data
    is refused), "config" (another 4xx), "transient" (an HTTP answer worth retrying) or "down"
    (no HTTP answer: connection refused or reset, a timeout)."""
    status = getattr(exc, "status", None) if isinstance(exc, ApiException) else None
    if not status:
        return "down", f"{type(exc).__name__}: {str(exc)[:300]}", 0.0
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
    detail = f"HTTP {status} {exc.reason or ''}: {body.strip()[:300]}"
    if status in PERMANENT_STATUS:
        return "permanent", detail, 0.0
    if status >= 500 or status in TRANSIENT_STATUS:
        try:
            retry_after = float((exc.headers or {}).get("Retry-After", 0))
        except (TypeError, ValueError):
            retry_after = 0.0
        return "transient", detail, retry_after
    return "config", detail, 0.0


_REQUEST_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


class Influx2Store(InfluxQLQueries):
    def __init__(
        self,
        url: str,
        spool_dir: Path | str | None = "data/influx-spool",
        retry_ms: int = 1000,
        max_retry_time_ms: int = 60_000,
        *,
        max_retry_delay_ms: int = 10_000,
        timeout_ms: int = 30_000,
        chunk_lines: int = 5000,
        read_only: bool = False,
    ):
        parts = urlsplit(url)
        self.bucket = parts.path.strip("/")
        query = parse_qs(parts.query)
        self.org = (query.get("org") or [""])[0]
        self.rollup_bucket = (query.get("rollup_bucket") or [f"{self.bucket}-rollups"])[0]
        if not self.bucket:
            raise ValueError(f"{url!r}: name the bucket: influxdb://host:8086/<bucket>?org=<org>")
        if not self.org:
            raise ValueError(f"{url!r}: add ?org=<org>")
        scheme = "https" if parts.scheme == "influxdbs" else "http"
        self.http_url = f"{scheme}://{parts.hostname}:{parts.port or 8086}"
        self.url = (
            f"{parts.scheme}://{parts.hostname}:{parts.port or 8086}/{self.bucket}?org={self.org}"
        )
        token = settings().influx_token
        self.read_only = read_only
        self.retry_ms = retry_ms
        self.max_retry_time_ms = max_retry_time_ms
        self.max_retry_delay_ms = max_retry_delay_ms
        self.chunk_lines = max(1, chunk_lines)
        self.client = InfluxDBClient(
            url=self.http_url,
            token=token.get_secret_value() if token else "",
            org=self.org,
            timeout=timeout_ms,
        )
        self.reader = InfluxQLReader(self._query)
        self.reader.layout = self._check_layout
        self._heard: dict[str, int] = {}
        self._dbrp_checked = False
        self._layout_at: float | None = None  # monotonic time of the last look; None: never
        self._retry_layout_at = 0.0  # while never answered: not before then (monotonic)
        # None (a bulk load, shopfloor/cli/bulk.py): no spool, no replay thread; a write the
        # server does not take raises, and a server that does not answer is an error at once.
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        self.quarantine_dir = (
            self.spool_dir.with_name(self.spool_dir.name + "-quarantine")
            if self.spool_dir is not None
            else None
        )
        self.spooled_lines = 0
        self.quarantined_files = 0
        self._names = itertools.count()
        self._replay_lock = threading.Lock()
        self._stop = threading.Event()
        self._replayer: threading.Thread | None = None
        if read_only:
            return
        if self.spool_dir is None:
            if not self.client.ping():
                raise StoreError(f"{self.url}: no InfluxDB answers at {self.http_url}")
            self._sync = self.client.write_api(write_options=SYNCHRONOUS)
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.spool_dir.glob(".*.tmp"):
            # A spool write a crash cut short: its write() never returned, nothing of it was
            # acknowledged, and the caller sends it again.
            tmp.unlink(missing_ok=True)
        # Synchronous: one HTTP request per call, answered in the call, no retries of its own.
        self._sync = self.client.write_api(write_options=SYNCHRONOUS)
        self._replayer = threading.Thread(
            target=self._replay_loop, name="influx-spool", daemon=True
        )
        self._replayer.start()

    # -- writes ------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"{self.url} was opened read-only: it takes no writes")
        if not records:
            return
        raw = [lineproto.line(r) for r in records if r.channel != "status"]
        births = [lineproto.line(r) for r in records if r.channel == "status"]
        spooled = self._write_lines(raw) if raw else False
        self._away = spooled
        try:
            rollup = self.derived_lines(records)
            # Births go with the rollups (kept as long): old ranges need the machine list.
            target = self.rollup_bucket if self.reader.r else self.bucket
            rollup = births + rollup
            if rollup:
                if spooled:
                    # The server has just failed for a whole retry budget: the derived points
                    # wait beside the raw ones instead of waiting out another one.
                    self._spool(rollup, target)
                else:
                    self._write_lines(rollup, target)
        except StoreError:
            self.derived_failed()
            raise

    @property
    def keeps_quarters(self) -> bool:  # type: ignore[override]
        """The meter rollup (kWh per quarter) is written where a rollup bucket keeps it for
        the energy page's old ranges. Its reads (a cold cache, a late reading) fail while the
        server is away, failing that write() as the hour rollup's do; a rebuild while older
        readings wait in the spool misses them (docs/scaling.md)."""
        return bool(self.reader.r)

    def _write_lines(self, lines: list[str], bucket: str | None = None) -> bool:
        """Send `lines` in chunks; True when some of them were spooled instead (durable)."""
        chunks = [lines[i : i + self.chunk_lines] for i in range(0, len(lines), self.chunk_lines)]
        for k, chunk in enumerate(chunks):
            if not self._send(chunk, bucket):
                for rest in chunks[k:]:
                    self._spool(rest, bucket)
                return True
        return False

    def _post(self, payload: bytes, bucket: str | None = None) -> None:
        self._sync.write(
            bucket=bucket or self.bucket,
            org=self.org,
            record=payload,
            write_precision=WritePrecision.US,
        )

    def _send(self, lines: list[str], bucket: str | None = None) -> bool:
        """True once the server confirmed `lines`; False when transient failures outlasted the
        retry budget. Raises PermanentStoreError (the data is refused) or StoreError (another
        4xx)."""
        payload = "\n".join(lines).encode()
        deadline = time.monotonic() + self.max_retry_time_ms / 1000
        attempt = 0
        while True:
            try:
                self._post(payload, bucket)
                return True
            except _REQUEST_ERRORS as exc:
                kind, detail, retry_after = _classify(exc)
            if kind == "permanent":
                raise PermanentStoreError(f"{self.url}: {len(lines)} lines refused: {detail}")
            if kind == "config":
                raise StoreError(f"{self.url}: {detail}")
            wait = min(self.retry_ms / 1000 * 2**attempt, self.max_retry_delay_ms / 1000)
            wait = max(wait, min(retry_after, self.max_retry_delay_ms / 1000))
            attempt += 1
            if time.monotonic() + wait > deadline:
                log.error(
                    "write of %d lines to %s failed %d times (%s): spooling them for replay",
                    len(lines),
                    self.url,
                    attempt,
                    detail,
                )
                return False
            log.warning(
                "write to %s failed (%s); retry %d in %.1f s", self.url, detail, attempt, wait
            )
            time.sleep(wait)

    def _spool(self, lines: list[str], bucket: str | None = None) -> Path:
        """Write `lines` to a new spool file atomically; StoreError if that fails (then the
        caller keeps the batch and retries: nothing was acknowledged). Lines for the rollup
        bucket get a file of their own kind (ROLLUP_SPOOL_SUFFIX)."""
        if self.spool_dir is None:
            raise StoreError(f"{self.url}: the server does not take writes (and no spool is kept)")
        suffix = ROLLUP_SPOOL_SUFFIX if bucket and bucket != self.bucket else ".lp"
        path = self.spool_dir / f"{time.time_ns()}-{os.getpid()}-{next(self._names)}{suffix}"
        try:
            _atomic_write(path, ("\n".join(lines) + "\n").encode())
        except OSError as exc:
            raise StoreError(
                f"{self.url}: the server does not take writes and the spool cannot: {exc}"
            ) from None
        self.spooled_lines += len(lines)
        log.error("spooled %d lines to %s for replay", len(lines), path)
        return path

    # -- the spool's replay ------------------------------------------------------------------

    def _replay_loop(self) -> None:
        delay = REPLAY_EVERY_S
        while not self._stop.wait(delay):
            try:
                with self._replay_lock:
                    _, failed = self._replay_round()
            except Exception:  # the replayer must outlive anything one round meets
                log.exception("spool replay round failed")
                failed = True
            delay = min(delay * 2, REPLAY_MAX_BACKOFF_S) if failed else REPLAY_EVERY_S

    def replay_spool(self) -> int:
        """Write spooled files back, oldest first; returns the lines written. A file refused for
        good is quarantined; transient failures leave the file for a later round."""
        if self.read_only or self.spool_dir is None:
            return 0
        with self._replay_lock:
            done, _ = self._replay_round()
        return done

    def _replay_round(self) -> tuple[int, bool]:
        """(lines written, whether a transient failure left files behind)."""
        done, failed, unanswered = 0, False, False
        for path in sorted(self.spool_dir.glob("*.lp")):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._quarantine(path, f"unreadable: {exc}")
                continue
            problem = _not_line_protocol(data)
            if problem:
                self._quarantine(path, problem)
                continue
            if unanswered:
                continue  # the files after it are still checked, not sent
            rollups = path.name.endswith(ROLLUP_SPOOL_SUFFIX)
            try:
                self._post(data, self.rollup_bucket if rollups else self.bucket)
            except _REQUEST_ERRORS as exc:
                kind, detail, _ = _classify(exc)
                if kind == "permanent":
                    self._quarantine(path, f"refused by {self.url}: {detail}")
                    continue
                failed = True
                log.info("replay of %s deferred: %s", path.name, detail)
                # An answer about this file (5xx, 429): the next one may go through. No answer,
                # or one about every request (a token): later files would only wait the same.
                unanswered = kind != "transient"
                continue
            path.unlink(missing_ok=True)
            _fsync_dir(self.spool_dir)
            n = sum(1 for line in data.split(b"\n") if line.strip())
            done += n
            log.info("replayed %s (%d lines) from the spool", path.name, n)
        return done, failed

    def _quarantine(self, path: Path, reason: str) -> None:
        """Move a spool file that can never be replayed out of the way, with its reason."""
        try:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            note = f"{reason}\nquarantined {datetime.now(UTC).isoformat()} from {path}\n"
            _atomic_write(self.quarantine_dir / f"{path.name}.reason", note.encode())
            os.replace(path, self.quarantine_dir / path.name)
            _fsync_dir(self.quarantine_dir)
            _fsync_dir(self.spool_dir)
        except OSError as exc:
            log.error("cannot quarantine %s (%s): %s", path, reason, exc)
            return
        self.quarantined_files += 1
        log.error(
            "spool file %s cannot be replayed (%s): moved to %s",
            path.name,
            reason,
            self.quarantine_dir,
        )

    # -- reads -------------------------------------------------------------------------------

    def _ensure_dbrp(self) -> None:
        """InfluxDB 2.x serves InfluxQL through a database/retention-policy mapping."""
        if self._dbrp_checked:
            return
        try:
            from influxdb_client.domain.dbrp_create import DBRPCreate
            from influxdb_client.service.dbrps_service import DBRPsService

            svc = DBRPsService(self.client.api_client)
            have = svc.get_dbrps(org=self.org, db=self.bucket)
            if not have.content:
                bucket = self.client.buckets_api().find_bucket_by_name(self.bucket)
                if bucket is not None:
                    svc.post_dbrp(
                        DBRPCreate(
                            org=self.org,
                            bucket_id=bucket.id,
                            database=self.bucket,
                            retention_policy="autogen",
                            default=True,
                        )
                    )
        except Exception as exc:
            log.debug("DBRP check skipped: %s", exc)
        self._dbrp_checked = True

    def _check_layout(self, force: bool = False) -> None:
        """Whether the rollup bucket is in use (the DBRP mapping of `rollups` onto it, made
        here when the bucket exists and the token may), and the raw bucket's retention:
        looked at once a minute. A server that does not answer leaves the last answer (until
        one comes, the single-bucket layout: the writes that need reads fail meanwhile)."""
        now = time.monotonic()
        if force:
            pass
        elif self._layout_at is not None:
            if self._away or now - self._layout_at < LAYOUT_RECHECK_S:
                return  # (while writes spool, the last answer holds)
        elif now < self._retry_layout_at:
            return
        try:
            from influxdb_client.domain.dbrp_create import DBRPCreate
            from influxdb_client.service.dbrps_service import DBRPsService

            svc = DBRPsService(self.client.api_client)
            got = svc.get_dbrps(org=self.org, db=self.bucket).content or []
            have = {d.retention_policy for d in got}
            buckets = self.client.buckets_api()
            rollups = buckets.find_bucket_by_name(self.rollup_bucket)
            if ROLLUP_RP not in have and rollups is not None:
                svc.post_dbrp(
                    DBRPCreate(
                        org=self.org, bucket_id=rollups.id, database=self.bucket,
                        retention_policy=ROLLUP_RP, default=False,
                    )
                )  # fmt: skip
                have.add(ROLLUP_RP)
            main = buckets.find_bucket_by_name(self.bucket)
        except Exception as exc:  # down, no such API (VictoriaMetrics), no right: as before
            log.debug("rollup bucket check: %s", exc)
            if self._layout_at is None and not isinstance(exc, ApiException):
                # No answer yet: ask again in a few seconds (each question may wait for the
                # client's timeout, and every write asks).
                self._retry_layout_at = now + 5.0
                return
            self._layout_at = now
            return
        self._layout_at = now

        def keep_ms(bucket: Any) -> int | None:
            rules = bucket.retention_rules if bucket is not None else None
            every = rules[0].every_seconds if rules else 0
            return every * 1000 if every else None

        if ROLLUP_RP in have:
            self.reader.r = f'"{ROLLUP_RP}".'
            # The births written before the rollup bucket existed stay in this one.
            self.reader.births_too = True
            # -1: the raw retention unknown (the bucket not readable): counters before now
            # look at the quarter ends too.
            self.raw_keep_ms = -1 if main is None else keep_ms(main)
            self.rollup_keep_ms = keep_ms(rollups)
        else:
            self.reader.r = ""
            self.raw_keep_ms = None
            self.rollup_keep_ms = keep_ms(main)

    def apply_retention(self, raw_s: float | None, rollup_s: float | None) -> None:
        """The raw bucket's retention raw_s seconds, the rollup bucket's rollup_s (math.inf:
        forever; None: that bucket left as it is), creating the rollup bucket when missing.
        Needs a token that may read and write buckets (compose's collector token may not:
        its init sets them); PermanentStoreError when the server refuses."""

        def every(seconds: float | None) -> int:
            return 0 if seconds is None or seconds == math.inf else int(seconds)

        def rules(seconds: float | None) -> list[BucketRetentionRules]:
            return [BucketRetentionRules(type="expire", every_seconds=every(seconds))]

        def same(bucket: Any, seconds: float | None) -> bool:
            # Compose's collector token may not change a bucket: one already as wanted is
            # left alone (its init made it so); so is one whose retention was not asked.
            have = bucket.retention_rules or []
            return seconds is None or (have[0].every_seconds if have else 0) == every(seconds)

        try:
            api = self.client.buckets_api()
            main = api.find_bucket_by_name(self.bucket)
            if main is None:
                raise PermanentStoreError(f"{self.url}: no bucket {self.bucket!r} to be seen")
            if not same(main, raw_s):
                main.retention_rules = rules(raw_s)
                api.update_bucket(main)
            rollups = api.find_bucket_by_name(self.rollup_bucket)
            if rollups is None and (rollup_s is not None or not self._holds_births()):
                # Not on a store written without it unless its retention was asked: its old
                # rollups stay behind in this bucket (no SELECT INTO on 2.x), so old ranges
                # would read empty from then on (docs/scaling.md, InfluxDB).
                api.create_bucket(
                    bucket_name=self.rollup_bucket, retention_rules=rules(rollup_s),
                    org_id=main.org_id,
                )  # fmt: skip
            elif rollups is not None and not same(rollups, rollup_s):
                rollups.retention_rules = rules(rollup_s)
                api.update_bucket(rollups)
        except ApiException as exc:
            kind, detail, _ = _classify(exc)
            if kind in ("permanent", "config"):
                raise PermanentStoreError(f"{self.url}: buckets: {detail}") from None
            raise StoreError(f"{self.url}: buckets: {detail}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreError(f"{self.url}: buckets: {type(exc).__name__}: {exc}") from None
        self._check_layout(force=True)

    def _holds_births(self) -> bool:
        """Whether the bucket already holds births (a store written before its rollup
        bucket); True when that cannot be told."""
        try:
            (rows,) = self._query('SELECT last("online") FROM "status"')  # the default mapping
        except (StoreError, ValueError):
            return True
        return bool(rows)

    def _query(self, q: str) -> list[Series]:
        self._ensure_dbrp()
        token = settings().influx_token
        headers = {"Authorization": f"Token {token.get_secret_value()}"} if token else {}
        try:
            resp = urllib3.request(
                "POST",
                f"{self.http_url}/query",
                fields={"db": self.bucket, "epoch": "u", "q": q},
                headers=headers,
                timeout=30,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StoreError(f"{self.url}: {exc}") from None
        if resp.status >= 300:
            raise StoreError(f"{self.url}: HTTP {resp.status}: {resp.data[:300]!r}")
        return parse_results(json.loads(resp.data), self.url)

    def close(self) -> None:
        self._stop.set()
        if self._replayer is not None:
            self._replayer.join()
            self.replay_spool()
            self._sync.close()
        self.client.close()
