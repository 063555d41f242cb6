"""What a second `shopfloor demo` on a data folder says first: it goes on from the stored
plant, and from when (the backfill covers the current shift only)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from collector.validate import validate
from shopfloor.cli.demo import backfill_start_ms, continuing_line, plant_stored_until_ms
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import MONDAY_1100, PLANT, instant_s

CFG = load_config(PLANT)
NOW_MS = int(instant_s(MONDAY_1100) * 1000)
TZ = ZoneInfo(CFG.plant.timezone)


def store_with(tmp_path, start_iso: str) -> tuple[SqliteStore, str]:
    """Ten simulated minutes of the plant from `start_iso`, stored as the collector would,
    and its last message's time as the plant's clock shows it."""
    t0 = int(instant_s(start_iso) * 1000)
    sink = ListSink()
    run(CFG, sink, t0, 600)
    recs = [validate(t, orjson.dumps(p), t0 + 10**9, 10**12, 10**6) for t, p, _ in sink.messages]
    store = SqliteStore(tmp_path / "shopfloor.db")
    stored = [r for r in recs if isinstance(r, Record)]
    store.write(stored)
    last = datetime.fromtimestamp(max(r.ts for r in stored) / 1000, TZ)
    return store, f"{last:%Y-%m-%d %H:%M:%S} +07"


def said(tmp_path, start_iso: str) -> tuple[str, str]:
    """What the demo says first over ten minutes stored from `start_iso`, on Monday at 11:00,
    and when the stored plant ends."""
    store, last = store_with(tmp_path, start_iso)
    try:
        stored = plant_stored_until_ms(CFG, store)
        start_ms = backfill_start_ms(CFG, store, NOW_MS)
        return continuing_line(CFG, tmp_path / "shopfloor.db", stored, start_ms), last
    finally:
        store.close()


def test_a_run_stopped_in_this_shift_goes_on_from_its_last_message(tmp_path):
    line, last = said(tmp_path, "2026-11-23T08:50:00+07:00")
    assert line.startswith(
        f"continuing: {tmp_path / 'shopfloor.db'} holds this plant up to {last};"
    )
    assert "goes on from there" in line and "empty" not in line


def test_a_run_stopped_days_ago_says_the_time_in_between_stays_empty(tmp_path):
    line, last = said(tmp_path, "2026-11-21T16:50:00+07:00")  # Saturday, shift B
    assert f"holds this plant up to {last};" in line and last.startswith("2026-11-21 17:00")
    # Monday's shift A starts at 06:00 (config/plant.yaml): the backfill starts there.
    assert "the current shift's start, 2026-11-23 06:00 +07" in line
    assert "the time in between stays empty" in line
