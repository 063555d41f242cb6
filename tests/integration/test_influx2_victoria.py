"""influxdb-client's WriteApi path, against VictoriaMetrics (a real /api/v2/write server)."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from collector.metrics import Metrics
from collector.service import Collector
from shopfloor import clock
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.influx2 import Influx2Store
from tests.servers import VictoriaMetrics, victoria_path
from tests.support import PLANT, read_jsonl, running_broker, wait_for

pytestmark = pytest.mark.skipif(
    victoria_path() is None, reason="needs victoria-metrics (apt; .ci/run installs it)"
)


def exported_seqs(vm: VictoriaMetrics) -> tuple[dict[tuple[str, str], list[int]], int]:
    """Per (machine, channel), every seq VictoriaMetrics holds (<channel>_seq series), repeats
    kept. Inferred states of legacy machines are the collector's own: left out."""
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for series in vm.export('{__name__=~"(state|count|energy|telemetry)_seq"}'):
        labels = series["metric"]
        out[(labels["machine"], labels["__name__"].removesuffix("_seq"))].extend(
            int(v) for v in series["values"]
        )
    return out, 0


def expected_seqs(path) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for m in read_jsonl(path):
        if "seq" in m["payload"]:
            parts = m["topic"].split("/")
            out[(parts[6], parts[7])].append(m["payload"]["seq"])
    return out


def compare(want: dict, got: dict) -> None:
    for key, seqs in want.items():
        assert sorted(got.get(key, [])) == sorted(seqs), key  # every point, none twice


def run_through(
    tmp_path, vm: VictoriaMetrics, hours: str, outage_s: float = 0.0
) -> tuple[dict, dict, Influx2Store]:
    store = Influx2Store(
        vm.url, spool_dir=tmp_path / "spool", retry_ms=500, max_retry_time_ms=120_000
    )
    start = (
        (datetime.fromtimestamp(clock.now_s(), UTC) - timedelta(hours=float(hours.rstrip("h"))))
        .replace(microsecond=0)
        .isoformat()
    )
    out = tmp_path / "run.jsonl"
    with running_broker() as broker:
        col = Collector(
            parse_broker_url(broker.url),
            store,
            client_id="vm-test",
            metrics=Metrics(),
            batch_max=500,
        ).start()
        wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "subscribed")
        import subprocess

        from tests.support import cli

        sim = subprocess.Popen(cli("sim", "--config", str(PLANT), "--fast", "--start", start, "--duration", hours,
                                   "--broker", broker.url, "--jsonl", str(out)), stderr=subprocess.DEVNULL)  # fmt: skip
        if outage_s:
            wait_for(
                lambda: col.metrics.value("shopfloor_collector_stored_total") > 2000,
                60,
                "writes under way",
            )
            vm.stop()
            time.sleep(outage_s)
            vm.start()
        assert sim.wait(180) == 0
        n = len(out.read_bytes().splitlines())
        wait_for(
            lambda: col.metrics.value("shopfloor_collector_received_total") >= n,
            120,
            "all received",
        )
        col.stop(timeout_s=180)
        store.close()
    return expected_seqs(out), exported_seqs(vm), store


def test_every_point_arrives_through_the_write_api(tmp_path):
    vm = VictoriaMetrics(tmp_path).start()
    try:
        want, (got, _n), _ = run_through(tmp_path, vm, "2h")
    finally:
        vm.stop()
    compare(want, got)


@pytest.mark.slow
def test_a_10_s_outage_mid_stream_loses_nothing_and_writes_nothing_twice(tmp_path):
    vm = VictoriaMetrics(tmp_path).start()
    try:
        want, (got, _n), _store = run_through(tmp_path, vm, "3h", outage_s=10.0)
    finally:
        vm.stop()
    compare(want, got)
    assert not list((tmp_path / "spool").glob("*.lp"))


def test_exhausted_retries_spool_and_replay(tmp_path):
    vm = VictoriaMetrics(tmp_path)
    store = Influx2Store(vm.url, spool_dir=tmp_path / "spool", retry_ms=100, max_retry_time_ms=1500)
    from shopfloor.store.base import Record

    recs = [
        Record(
            "acme",
            "hcm",
            "a",
            "l1",
            "m1",
            "energy",
            clock.now_ms() - 60_000 + i,
            i + 1,
            {"energy_kwh": float(i)},
        )
        for i in range(50)
    ]
    t0 = time.monotonic()
    store.write(recs)  # the server is not there: retries give up, the batch is spooled
    assert time.monotonic() - t0 < 30
    assert store.spooled_lines == 51  # and the machine's `heard` point
    assert len(list((tmp_path / "spool").glob("*.lp"))) >= 1
    vm.start()
    try:
        # This call or the store's own replayer (every 5 s) sends the spooled lines.
        store.replay_spool()
        wait_for(lambda: not list((tmp_path / "spool").glob("*.lp")), 20, "an empty spool")
        store.close()
        got, _ = exported_seqs(vm)
    finally:
        vm.stop()
    assert sorted(got[("m1", "energy")]) == list(range(1, 51))
