"""Store URLs: sqlite:///path, influxdb://host:8086/<bucket>?org=<org>, influxdb1://host:8086/<db>."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from shopfloor.store.base import Store

SCHEMES = ("sqlite", "influxdb", "influxdbs", "influxdb1")


def parse_store_url(text: str) -> tuple[str, str]:
    """(scheme, rest); raises ValueError naming what is wrong."""
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"{text!r}: the scheme must be one of {', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.scheme == "sqlite":
        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db
        if not text.startswith("sqlite:///") or len(text) == len("sqlite:///"):
            raise ValueError(
                f"{text!r}: use sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return "sqlite", text[len("sqlite:///") :]
    if not parts.hostname:
        raise ValueError(f"{text!r}: no host")
    return parts.scheme, text


def open_store(
    text: str, spool_dir: str | Path | None = "data/influx-spool", read_only: bool = False
) -> Store:
    """The store at URL `text`. read_only=True is for readers (the dashboard, `shopfloor kpi`):
    an InfluxDB 2.x store then starts no WriteApi and no spool replay and makes no spool
    folder; SQLite opens the file with mode=ro (see SqliteStore); both refuse write().
    spool_dir=None (a bulk load): InfluxDB 2.x keeps no spool, a write it does not take raises.
    InfluxDB 1.x keeps no client-side writer, and takes no such flag."""
    scheme, rest = parse_store_url(text)
    if scheme == "sqlite":
        from shopfloor.store.sqlite import SqliteStore

        return SqliteStore(Path(rest), read_only=read_only)
    if scheme in ("influxdb", "influxdbs"):
        from shopfloor.store.influx2 import Influx2Store

        if spool_dir is None:
            # One try per write: the bulk path retries a failed write itself, with backoff,
            # so a store that went away fails the run in about a minute, not nine retry budgets.
            return Influx2Store(text, spool_dir=None, max_retry_time_ms=0, read_only=read_only)
        return Influx2Store(text, spool_dir=spool_dir, read_only=read_only)
    # parse_store_url admits SCHEMES only: what is left is influxdb1.
    from shopfloor.store.influx1 import Influx1Store

    return Influx1Store(text)
