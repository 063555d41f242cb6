"""Every page's data on a real InfluxDB 1.x, filled by the collector's store code, equals what
the same pages show on SQLite (and so the ground truth, which test_overview checks)."""

from __future__ import annotations

import orjson
import pytest

from collector.validate import validate
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.influx1 import Influx1Store
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.servers import influxd, influxd_path
from tests.support import PLANT

START_MS = 1_795_366_800_000
END_MS = START_MS + 86_400_000
pytestmark = pytest.mark.skipif(
    not influxd_path(), reason="needs influxd (apt influxdb; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from dashboard.app import create_app
    from dashboard.context import context

    cfg = load_config(PLANT)
    sink = ListSink()
    truth = run(cfg, sink, START_MS, 86400).report
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    recs = [r for r in recs if isinstance(r, Record)]
    tmp = tmp_path_factory.mktemp("influx-dash")
    with influxd(tmp) as server:
        influx = Influx1Store(server.url)
        sqlite = SqliteStore(tmp / "s.db")
        for store in (influx, sqlite):
            for i in range(0, len(recs), 5000):
                store.write(recs[i : i + 5000])
        contexts = {}
        for name, store in (("influxdb1", influx), ("sqlite", sqlite)):
            create_app(store, cfg)
            contexts[name] = context()
        yield contexts, truth


@pytest.mark.parametrize(
    "range_kind", ["last_24h", "current_shift", "custom|2026-11-23T09:10|2026-11-23T16:50"]
)
def test_pages_match_on_influx_and_sqlite(stores, range_kind):
    from dashboard import data

    contexts, truth = stores
    now_s = END_MS / 1000
    got = {}
    for name, ctx in contexts.items():
        ov = data.overview(ctx, range_kind, now_s)
        mv = data.machine_view(ctx, "cnc-02", range_kind, now_s)
        lo = data.losses(ctx, range_kind, now_s)
        en = data.energy(ctx, range_kind, now_s)
        assert None is ov.error is mv.error is lo.error is en.error, name
        got[name] = (ov, mv, lo, en)
    (ov1, mv1, lo1, en1), (ov2, mv2, lo2, en2) = got["influxdb1"], got["sqlite"]
    for lid, line in ov2.report["lines"].items():
        for key in ("oee", "availability", "performance", "quality", "good_count", "energy_kwh"):
            assert ov1.report["lines"][lid][key] == pytest.approx(line[key], abs=1e-6), (lid, key)
    assert ov1.states == ov2.states
    assert mv1.changes == mv2.changes
    assert [(a, e and e["good_count"]) for a, e in mv1.by_hour] == [
        (a, e and e["good_count"]) for a, e in mv2.by_hour
    ]
    assert lo1.bottlenecks == lo2.bottlenecks
    assert [p[:2] for p in lo1.pareto] == [p[:2] for p in lo2.pareto]
    assert [p[2] for p in lo1.pareto] == pytest.approx([p[2] for p in lo2.pareto])
    # pytest.approx() takes flat sequences only: the demand is (quarter, kW) pairs.
    assert [q for q, _ in en1.demand_kw] == [q for q, _ in en2.demand_kw]
    assert [kw for _, kw in en1.demand_kw] == pytest.approx([kw for _, kw in en2.demand_kw])
    assert en1.demand_kw, "a day of the demo plant has metered quarters"
    assert [(n, a) for n, a, _ in en1.shifts] == [(n, a) for n, a, _ in en2.shifts]
    if range_kind == "last_24h":
        assert ov1.report["plant"]["good_count"] == truth["plant"]["good_count"]
