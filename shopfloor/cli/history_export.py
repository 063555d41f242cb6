"""`shopfloor sim --fast --jsonl-dir DIR`: the validated history as JSON lines, partitioned by
plant-local day and channel (issue 15; schema in docs/history.md).

It takes the records the bulk path (shopfloor/cli/bulk.py) would write to a store, the
collector's derived ones included (a legacy machine's inferred states, estimated meter and
counted cycles, flagged `inferred`), so what is loaded elsewhere is what the dashboard reads.
The layout is Hive-style, `DIR/day=YYYY-MM-DD/channel=<channel>/part-<n>.jsonl`, which
DuckDB, Spark, pandas + pyarrow and BigQuery all read as partitions.

Why JSON lines and not Parquet: no new dependency (pyarrow is a 40 MB wheel, and polars
would add a second data frame library to a project that has none), the files stream line by
line while the run goes on, and every loader reads them; converting a partition to Parquet is
one line of DuckDB (docs/history.md).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import orjson

from shopfloor.store.base import Record

DAY_MS = 86_400_000


class JsonlDirStore:
    """A write-only Store-like sink for StoreSink: each record as one line of its partition."""

    def __init__(self, root: Path | str, timezone: str) -> None:
        self.root = Path(root)
        self.url = f"jsonl-dir:{self.root}"
        self.tz = ZoneInfo(timezone)
        self._files: dict[tuple[str, str], IO[bytes]] = {}
        # Plant-local day of a ts, cached per quarter hour: zones are whole quarter hours off
        # UTC, so a day never starts inside one.
        self._days: dict[int, str] = {}
        self.root.mkdir(parents=True, exist_ok=True)
        self.part = 0
        while any(self.root.glob(f"day=*/channel=*/part-{self.part}.jsonl")):
            self.part += 1  # a second run into the same folder adds files, never overwrites

    def _day(self, ts: int) -> str:
        q = ts // 900_000
        day = self._days.get(q)
        if day is None:
            day = self._days[q] = datetime.fromtimestamp(q * 900, self.tz).strftime("%Y-%m-%d")
        return day

    def _file(self, day: str, channel: str) -> IO[bytes]:
        f = self._files.get((day, channel))
        if f is None:
            folder = self.root / f"day={day}" / f"channel={channel}"
            folder.mkdir(parents=True, exist_ok=True)
            f = self._files[(day, channel)] = open(folder / f"part-{self.part}.jsonl", "ab")  # noqa: SIM115
        return f

    def write(self, records: list[Record]) -> None:
        lines: dict[tuple[str, str], list[bytes]] = {}
        for r in records:
            row = {
                "ts": r.ts,
                "enterprise": r.enterprise,
                "site": r.site,
                "area": r.area,
                "line": r.line,
                "machine": r.machine,
                "seq": r.seq,
                "inferred": r.inferred,
            }
            for k, v in r.payload.items():
                if k not in ("ts", "seq"):
                    row[k] = v
            lines.setdefault((self._day(r.ts), r.channel), []).append(orjson.dumps(row))
        for key, rows in lines.items():
            rows.append(b"")
            self._file(*key).write(b"\n".join(rows))

    def files(self) -> list[Path]:
        return sorted(self.root.glob("day=*/channel=*/*.jsonl"))

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
