"""InfluxDB 1.x through its own HTTP API: /write (line protocol) and /query (InfluxQL).

influxdb1://[user:pass@]host:8086/<database>. The database is created when missing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3

from shopfloor.store import lineproto
from shopfloor.store.base import PermanentStoreError, Record, StoreError
from shopfloor.store.influxql import InfluxQLQueries, InfluxQLReader, Series, parse_results

# /write answers that mean "this batch, as it is, never": retrying it cannot help. Everything
# else (connection refused, timeouts, 5xx, 401/403/404 of a misconfiguration) is retried.
PERMANENT_STATUS = frozenset({400, 413, 422})


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
        self.reader = InfluxQLReader(self._query)
        self._heard: dict[str, int] = {}

    def _request(
        self, method: str, path: str, params: dict[str, str], body: bytes | None = None
    ) -> Any:
        url = f"{self.base}{path}?{urlencode({**params, **self.auth})}"
        try:
            resp = self.http.request(
                method, url, body=body, headers={"Content-Type": "text/plain"} if body else None
            )
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

    def write(self, records: list[Record]) -> None:
        if not records:
            return
        self._ensure_db()
        try:
            body = lineproto.encode(records)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise PermanentStoreError(
                f"{self.url}: cannot encode: {exc.__class__.__name__}: {exc}"
            ) from None
        self._request("POST", "/write", {"db": self.db, "precision": "u"}, body)
        rollup = self.derived_lines(records)
        if rollup:
            try:
                self._request(
                    "POST", "/write", {"db": self.db, "precision": "u"}, "\n".join(rollup).encode()
                )
            except StoreError:
                self.derived_failed()
                raise

    def _query(self, q: str) -> list[Series]:
        self._ensure_db()
        resp = self._request("POST", "/query", {"db": self.db, "epoch": "u", "q": q})
        data = json.loads(resp.data)
        return parse_results(data, self.url)

    def close(self) -> None:
        self.http.clear()
