"""InfluxDB 2.x / 3.x / 1.8+ through influxdb-client: writes with its batching WriteApi
(retries with exponential backoff, callbacks), reads with InfluxQL over /query.

influxdb://host:8086/<bucket>?org=<org> (influxdbs:// for TLS); the token comes from
SHOPFLOOR_INFLUX_TOKEN. A write() returns once every line of the batch is either confirmed by
the server or, when the WriteApi's retries are exhausted, appended to a local spool file
(durable); the spool is replayed in the background and on start, so nothing is silently
dropped. Close with close() (the WriteApi's flush() does nothing in batching mode).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from influxdb_client import InfluxDBClient, WriteOptions
from influxdb_client.client.write_api import SYNCHRONOUS, WritePrecision

from shopfloor.settings import settings
from shopfloor.store import lineproto
from shopfloor.store.base import Record, StoreError
from shopfloor.store.influxql import InfluxQLQueries, InfluxQLReader, Series, parse_results

log = logging.getLogger("shopfloor.store.influx")


class Influx2Store(InfluxQLQueries):
    def __init__(
        self,
        url: str,
        spool_dir: Path | str = "data/influx-spool",
        retry_ms: int = 1000,
        max_retry_time_ms: int = 60_000,
    ):
        parts = urlsplit(url)
        self.bucket = parts.path.strip("/")
        query = parse_qs(parts.query)
        self.org = (query.get("org") or [""])[0]
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
        self.max_retry_time_ms = max_retry_time_ms
        self.client = InfluxDBClient(
            url=self.http_url,
            token=token.get_secret_value() if token else "",
            org=self.org,
            timeout=30_000,
        )
        self._cond = threading.Condition()
        self._settled = 0  # lines confirmed or spooled
        self.spooled_lines = 0
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.write_api = self.client.write_api(
            write_options=WriteOptions(
                batch_size=5000, flush_interval=100, jitter_interval=0, retry_interval=retry_ms,
                max_retries=10, max_retry_delay=10_000, max_retry_time=max_retry_time_ms, exponential_base=2,
            ),
            success_callback=self._ok,
            error_callback=self._failed,
            retry_callback=self._retry,
        )  # fmt: skip
        self._sync = self.client.write_api(write_options=SYNCHRONOUS)
        self._stop = threading.Event()
        self._replayer = threading.Thread(
            target=self._replay_loop, name="influx-spool", daemon=True
        )
        self._replayer.start()
        self.reader = InfluxQLReader(self._query)
        self._heard: dict[str, int] = {}
        self._dbrp_checked = False

    # -- writes ------------------------------------------------------------------------------

    def _ok(self, conf: Any, data: str) -> None:
        self._settle(data)

    def _retry(self, conf: Any, data: str, exc: Exception) -> None:
        log.warning(
            "write to %s failed (%s); the WriteApi retries with backoff", self.url, str(exc)[:200]
        )

    def _failed(self, conf: Any, data: str | bytes, exc: Exception) -> None:
        text = data if isinstance(data, str) else data.decode()
        path = self.spool_dir / f"{time.time_ns()}.lp"
        path.write_text(text)
        lines = text.count("\n") + 1
        self.spooled_lines += lines
        log.error(
            "retries exhausted for %d lines (%s): spooled to %s for replay",
            lines,
            str(exc)[:200],
            path,
        )
        self._settle(data)

    def _settle(self, data: str | bytes) -> None:
        n = (data.count("\n") if isinstance(data, str) else data.count(b"\n")) + 1
        with self._cond:
            self._settled += n
            self._cond.notify_all()

    def write(self, records: list[Record]) -> None:
        if not records:
            return
        self._write_lines([lineproto.line(r) for r in records])
        rollup = self.derived_lines(records)
        if rollup:
            try:
                self._write_lines(rollup)
            except StoreError:
                self.derived_failed()
                raise

    def _write_lines(self, lines: list[str]) -> None:
        with self._cond:
            target = self._settled + len(lines)
        self.write_api.write(
            bucket=self.bucket, org=self.org, record=lines, write_precision=WritePrecision.US
        )
        deadline = time.monotonic() + self.max_retry_time_ms / 1000 + 60
        with self._cond:
            while self._settled < target:
                if time.monotonic() > deadline:
                    # Neither confirmed nor spooled: let the caller retry (writes are idempotent).
                    self._settled = target
                    raise StoreError(f"{self.url}: no answer for {len(lines)} lines")
                self._cond.wait(1.0)

    def _replay_loop(self) -> None:
        while not self._stop.wait(5.0):
            self.replay_spool()

    def replay_spool(self) -> int:
        """Write spooled batches back; returns the lines written. Failures stay for later."""
        done = 0
        for path in sorted(self.spool_dir.glob("*.lp")):
            data = path.read_text()
            try:
                self._sync.write(
                    bucket=self.bucket, org=self.org, record=data, write_precision=WritePrecision.US
                )
            except Exception as exc:
                log.debug("spool replay deferred: %s", exc)
                break
            path.unlink()
            done += data.count("\n") + 1
            log.info("replayed %s from the spool", path.name)
        return done

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

    def _query(self, q: str) -> list[Series]:
        import urllib3

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
        self.write_api.close()  # flushes what is batched (flush() would not)
        self.replay_spool()
        self.client.close()
