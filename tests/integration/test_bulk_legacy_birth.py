"""The bulk path's legacy inference goes on from a store as the collector does (issue 12):
samples of a stroke-metered machine that come before its birth are counted once the birth
says what stroke to look for (collector/legacy.py, PowerStates.learn), and stored.

A real SQLite store; the first bulk run stores a birth and 50 counted cycles, the second one
sees four strokes before its birth and one after. The strokes are known, so the count is
judged against them, not against the counter."""

from __future__ import annotations

import sqlite3

from shopfloor.cli.bulk import StoreSink
from shopfloor.store.sqlite import SqliteStore

TOPIC = "shopfloor/v1/acme/hcm/assembly/assembly-1/press-01/{}"
RUNNING, IDLE, STROKE = 22.0, 4.0, 60.0
POWER = {
    "running": RUNNING, "idle": IDLE, "starved": IDLE, "blocked": IDLE, "down": 0.5,
    "setup": IDLE, "planned_stop": IDLE, "off": 0.0,
}  # fmt: skip
T0 = 1_795_381_200_000


def birth(ts: int) -> dict:
    return {
        "ts": ts, "online": True, "kind": "press", "position": 0, "line_length": 1,
        "connectivity": "legacy", "ideal_cycle_s": 38.0, "power_kw": POWER,
        "sample_interval_s": 1.0, "meter": {"stroke_kw": STROKE, "stroke_s": 1.5},
    }  # fmt: skip


def run(db, messages: list[tuple[str, dict]]) -> None:
    store = SqliteStore(db)
    sink = StoreSink(store, close_store=True)
    for channel, payload in messages:
        sink.emit(TOPIC.format(channel), payload, channel == "status")
    sink.close()


def samples(seq0: int, ts0: int, kws: list[float]) -> list[tuple[str, dict]]:
    return [
        ("telemetry", {"ts": ts0 + 1000 * i, "seq": seq0 + i, "power_kw": kw})
        for i, kw in enumerate(kws)
    ]


def test_samples_before_a_late_birth_are_counted_and_stored(tmp_path):
    db = tmp_path / "s.db"
    first = [RUNNING, STROKE] * 50  # 50 strokes, each re-armed by the running load after it
    run(db, [("status", birth(T0)), *samples(1, T0 + 1000, first)])
    # The next run's samples reach the sink before the birth (a restarted publisher whose
    # birth comes late): 4 strokes before it, 1 after.
    ts1 = T0 + 1000 * (len(first) + 1)
    early = samples(len(first) + 1, ts1, [RUNNING, 55.0, RUNNING, 58.0, RUNNING, 57.0, RUNNING])
    early += samples(len(first) + 8, ts1 + 7000, [59.0, RUNNING])
    late = samples(len(first) + 10, ts1 + 9000, [RUNNING, 56.0, RUNNING])
    run(db, [*early, ("status", birth(ts1 + 8500)), *late])
    con = sqlite3.connect(db)
    try:
        totals = [t for (t,) in con.execute("SELECT total FROM counts ORDER BY ts, seq")]
    finally:
        con.close()
    assert totals == list(range(1, 56))
