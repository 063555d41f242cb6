"""InfluxDB 2.x retention layout (issue 15): raw records to the bucket, births, rollups and
bookkeeping to the rollup bucket, also through the spool.

No InfluxDB 2.x server can run here (none is packaged for this machine), so this runs the
store's write path against VictoriaMetrics, a real /api/v2/write server, frozen to make the
store spool. VictoriaMetrics keeps no bucket apart, so which bucket each request named is
recorded on the way out; the points themselves must reach the server. The bucket and DBRP
calls (`_check_layout`, `apply_retention`) and the InfluxQL reads through the `rollups`
mapping are not run against a 2.x server here: the reads are the InfluxDB 1.x ones
(tests/integration/test_influx_retention.py runs them on a real influxd).
"""

from __future__ import annotations

import time

import pytest

from shopfloor.store.base import Record
from shopfloor.store.influx2 import ROLLUP_SPOOL_SUFFIX, Influx2Store
from tests.servers import VictoriaMetrics, victoria_path
from tests.support import wait_for

pytestmark = pytest.mark.skipif(
    victoria_path() is None, reason="needs victoria-metrics (apt; .ci/run installs it)"
)


def records(now: int, seq0: int) -> list[Record]:
    def rec(channel: str, dt: int, seq: int | None, **payload: object) -> Record:
        return Record("e", "s", "a", "l", "m1", channel, now + dt, seq, payload)

    return [
        rec("status", 0, None, online=True, kind="cnc", ideal_cycle_s=30.0),
        rec("telemetry", 1, seq0, power_kw=2.5),
        rec("energy", 2, seq0 + 1, energy_kwh=1.5),
    ]


def test_rollup_lines_go_to_the_rollup_bucket_also_through_the_spool(tmp_path):
    vm = VictoriaMetrics(tmp_path).start()
    spool = tmp_path / "spool"
    store = Influx2Store(vm.url + "&rollup_bucket=old-ranges", spool_dir=spool, retry_ms=50,
                         max_retry_time_ms=300, timeout_ms=300)  # fmt: skip
    sent: list[tuple[str, list[str]]] = []
    post = store._post

    def recording(payload: bytes, bucket: str | None = None) -> None:
        post(payload, bucket)  # raises when the server does not take it
        names = sorted({line.split(",", 1)[0] for line in payload.decode().splitlines()})
        sent.append((bucket or store.bucket, names))

    store._post = recording  # type: ignore[method-assign]
    try:
        assert store.rollup_bucket == "old-ranges"
        # VictoriaMetrics has no DBRP API: the single-bucket layout, as before issue 15.
        assert store.reader.r == "" and not store.keeps_quarters
        now = int(time.time() * 1000)
        store.write(records(now, 1))
        assert {b for b, _ in sent} == {"shopfloor"}
        # As a 2.x server with the rollup bucket mapped answers (no re-check for this test).
        store._layout_at = float("inf")
        store.reader.r = '"rollups".'
        assert store.keeps_quarters
        sent.clear()
        store.write(records(now + 1000, 3))
        assert sent == [
            ("shopfloor", ["energy", "telemetry"]),
            ("old-ranges", ["heard", "status"]),
        ]
        # The server away: both kinds spooled, each to be replayed to its own bucket.
        sent.clear()
        vm.freeze()
        try:
            store.write(records(now + 2000, 5))
            files = sorted(p.name for p in spool.glob("*.lp"))
        finally:
            vm.thaw()
        assert len(files) == 2
        rollups = [f for f in files if f.endswith(ROLLUP_SPOOL_SUFFIX)]
        assert len(rollups) == 1
        text = (spool / rollups[0]).read_text()
        assert {line.split(",", 1)[0] for line in text.splitlines()} == {"status", "heard"}
        wait_for(lambda: not list(spool.glob("*.lp")), 30, "the spool replayed")
        assert sorted(sent) == [
            ("old-ranges", ["heard", "status"]),
            ("shopfloor", ["energy", "telemetry"]),
        ]
        # Every point there (a frozen request answered late may have stored one twice).
        for series in ('telemetry_power_kw{machine="m1"}', 'status_online{machine="m1"}'):
            (got,) = vm.export(series)
            assert len(set(got["timestamps"])) == 3, series
    finally:
        store.close()
        vm.stop()
