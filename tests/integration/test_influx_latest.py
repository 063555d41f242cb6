"""InfluxDB 1.x keeps each machine's newest state change, count and meter reading as
`<channel>_latest` points; a refresh reads the state now and the counters at a range's end from
them. They must equal what the raw records say, on a real influxd, whatever the write order."""

from __future__ import annotations

import orjson
import pytest

from collector.validate import validate
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.influx1 import Influx1Store
from shopfloor.store.report import report_from_store
from shopfloor.store.rollup import END_OF_TIME_MS
from simulator.run import run
from simulator.sinks import ListSink
from tests.servers import influxd, influxd_path
from tests.support import PLANT

START_MS = 1_795_366_800_000 + 6 * 3_600_000  # Monday 2026-11-23 06:00 +07:00, shift A
HOURS = 4
END_MS = START_MS + HOURS * 3_600_000
pytestmark = pytest.mark.skipif(
    not influxd_path(), reason="needs influxd (apt influxdb; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def sim():
    cfg = load_config(PLANT)
    sink = ListSink()
    truth = run(cfg, sink, START_MS, HOURS * 3600).report
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    return cfg, truth, [r for r in recs if isinstance(r, Record)]


def raw_reads(store: Influx1Store, t: int) -> tuple[object, ...]:
    """The newest records as the raw points say (the reader's own queries, no `_latest`)."""
    r = store.reader
    return (
        r.last_changes(END_OF_TIME_MS),
        r.counter_at("count", END_OF_TIME_MS),
        r.counter_at("energy", END_OF_TIME_MS),
        r.counter_at("count", t),
        r.counter_at("energy", t),
        r.last_changes(t),
    )


def store_reads(store: Influx1Store, t: int) -> tuple[object, ...]:
    return (
        store.last_changes(END_OF_TIME_MS),
        store.counter_at("count", END_OF_TIME_MS),
        store.counter_at("energy", END_OF_TIME_MS),
        store.counter_at("count", t),
        store.counter_at("energy", t),
        store.last_changes(t),
    )


def latest_only(url: str) -> Influx1Store:
    """A store whose raw newest-record queries fail: its answers come from `_latest`."""
    s = Influx1Store(url)

    def no_raw(*_: object) -> None:
        raise AssertionError("read the raw records, not the _latest points")

    s.reader.last_changes = no_raw  # type: ignore[method-assign]
    s.reader.counter_at = no_raw  # type: ignore[method-assign]
    return s


def test_latest_points_equal_the_raw_records_whatever_the_write_order(sim, tmp_path):
    cfg, truth, recs = sim
    batches = [recs[i : i + 1500] for i in range(0, len(recs), 1500)]
    held = batches.pop(len(batches) // 2)  # arrives last: a gap filled late
    with influxd(tmp_path) as server:
        first = Influx1Store(server.url)
        for b in batches[: len(batches) // 2]:
            first.write(b)
        first.close()
        # A restarted collector (cold caches) goes on, repeats a batch, then the late one.
        second = Influx1Store(server.url)
        for b in batches[len(batches) // 2 :]:
            second.write(b)
        second.write(batches[-1])
        second.close()
        third = Influx1Store(server.url)
        third.write(held)
        third.close()

        reader = Influx1Store(server.url)
        mid = START_MS + 90 * 60_000 + 17
        raw = raw_reads(reader, mid)
        talking = {st.id for _, st in cfg.stations() if st.connectivity != "legacy"}
        assert talking <= set(raw[0]), "every station that reports states changed state"
        assert all(c["total"] > 0 for _, c in raw[1].values()), "every counting station made parts"
        assert store_reads(reader, mid) == raw
        fast = latest_only(server.url)
        assert fast.reader.latest_complete()
        assert fast.last_changes(END_OF_TIME_MS) == raw[0]
        assert fast.counter_at("count", END_OF_TIME_MS) == raw[1]
        assert fast.counter_at("energy", END_OF_TIME_MS) == raw[2]
        with pytest.raises(AssertionError, match="raw records"):
            fast.counter_at("count", mid)  # not every newest count is before it: raw records
        # A whole-run report reads the counters at its end from `_latest` (at its start, before
        # any record, from the raw records): the ground truth's.
        report = report_from_store(reader, START_MS, END_MS + 1, cfg)
        for lid, line in truth["lines"].items():
            assert report["lines"][lid]["good_count"] == line["good_count"], lid
        # Whole hours: the rollup's rows, added up by the store (each machine's last seconds
        # after its newest message are not in the store).
        for m in talking:
            for key in ("running_s", "down_s", "starved_s", "blocked_s"):
                want = truth["machines"][m][key]
                assert report["machines"][m][key] == pytest.approx(want, abs=5), (m, key)
        # The raw changes at a range's edges: after every newest change, from `_latest` only.
        assert fast.states(END_MS + 1, END_MS + 2) == reader.reader.states(END_MS + 1, END_MS + 2)
        assert reader.states(mid, mid + 600_000) == reader.reader.states(mid, mid + 600_000)
        plain = Influx1Store(server.url)
        plain.keeps_latest = False  # every read from the raw records
        assert report == report_from_store(plain, START_MS, END_MS + 1, cfg)
        reader.close()


def test_latest_points_are_built_over_records_written_before_them(sim, tmp_path):
    cfg, _, recs = sim
    with influxd(tmp_path) as server:
        before = Influx1Store(server.url)
        before.keeps_latest = False  # a version without them
        before.write(recs)
        before.close()
        old = Influx1Store(server.url)
        assert not old.reader.latest_complete()
        raw = raw_reads(old, END_MS)
        assert store_reads(old, END_MS) == raw  # read from the raw records until built
        # The next write (a repeat of a stored record) builds them for every machine.
        old.write([next(r for r in reversed(recs) if r.channel == "count")])
        fast = latest_only(server.url)
        assert fast.reader.latest_complete()
        assert fast.last_changes(END_OF_TIME_MS) == raw[0]
        assert fast.counter_at("count", END_OF_TIME_MS) == raw[1]
        assert fast.counter_at("energy", END_OF_TIME_MS) == raw[2]
        assert len(raw[0]) >= len(cfg.stations()) - 1 and len(raw[2]) >= len(cfg.stations()) - 1
        old.close()
