"""influxdb-client's WriteApi path, against VictoriaMetrics (a real /api/v2/write server)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.metrics import Metrics
from collector.service import Collector
from shopfloor import clock
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store import influx2, lineproto, open_store
from shopfloor.store.base import PermanentStoreError, Record, StoreError
from shopfloor.store.influx2 import Influx2Store, ReadOnlyStoreError
from tests.servers import VictoriaMetrics, victoria_path
from tests.support import PLANT, cli, read_jsonl, running_broker, wait_for

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
        # Received counts a message as handling starts: stop once VictoriaMetrics has every
        # point (compare() below still catches any point written twice).
        want = expected_seqs(out)
        wait_for(
            lambda: all(set(exported_seqs(vm)[0].get(k, [])) == set(v) for k, v in want.items()),
            180,
            "every point exported",
        )
        assert col.stop(grace_s=180)
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


# -- the spool, acknowledgements and read-only opening (issue 14, item 12) -------------------


def energy(machine: str, seqs: range) -> list[Record]:
    now = clock.now_ms() - 600_000
    return [
        Record("acme", "hcm", "a", "l1", machine, "energy", now + s, s, {"energy_kwh": float(s)})
        for s in seqs
    ]


def stored_seqs(vm: VictoriaMetrics, machine: str) -> list[int]:
    got: list[int] = []
    for series in vm.export(f'energy_seq{{machine="{machine}"}}'):
        got.extend(int(v) for v in series["values"])
    return sorted(got)


def spool_files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_spool_files_are_written_whole_through_a_temporary_file_and_a_rename(tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / ".17-1-0.lp.tmp").write_text("m f=1 1")  # what a crash mid-spool leaves
    vm = VictoriaMetrics(tmp_path)  # not started: every write is spooled
    replaced: list[tuple[str, str, bytes]] = []
    real_replace = os.replace

    def watch(src, dst):
        replaced.append((str(src), str(dst), Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(influx2.os, "replace", watch)
    store = Influx2Store(vm.url, spool_dir=spool, retry_ms=50, max_retry_time_ms=200)
    try:
        assert spool_files(spool) == []  # the crash's temporary held nothing acknowledged
        store.write(energy("m1", range(1, 21)))
        files = spool_files(spool)
        assert files and all(n.endswith(".lp") for n in files)  # no temporary left
        # Each file came into place by a rename of a complete temporary in the same folder.
        for name in files:
            (src, _dst, data) = next(r for r in replaced if r[1] == str(spool / name))
            assert Path(src).parent == spool and Path(src).name.startswith(".")
            assert data == (spool / name).read_bytes() and data.endswith(b"\n")
        assert sum(len((spool / n).read_text().splitlines()) for n in files) == 21

        # A spool that cannot be written fails the write (nothing acknowledged, no debris).
        def broken(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(influx2.os, "replace", broken)
        with pytest.raises(StoreError, match="spool cannot"):
            store.write(energy("m2", range(1, 5)))
        assert spool_files(spool) == files
    finally:
        monkeypatch.setattr(influx2.os, "replace", real_replace)
        store.close()


def test_a_spool_file_that_cannot_be_replayed_is_quarantined_and_never_blocks_the_rest(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    now_us = (clock.now_ms() - 600_000) * 1000
    # Over -influx.maxLineSize, alone and with no newline after it: VictoriaMetrics answers
    # 400 then (it takes an over-long line that a newline ends in a longer body).
    too_long = f'status,machine=m9 kind="{"x" * 2000}" {now_us}'
    (spool / "1000-refused.lp").write_text(too_long)
    (spool / "1001-binary.lp").write_bytes(b"\xff\xfe\x00garbage")
    (spool / "1002-json.lp").write_text('{"machine": "m1", "seq": 3}\n')
    (spool / "1003-folder.lp").mkdir()  # unreadable as a file
    good = "\n".join(lineproto.line(r) for r in energy("m1", range(1, 11))) + "\n"
    (spool / "1004-good.lp").write_text(good)
    quarantine = tmp_path / "spool-quarantine"
    vm = VictoriaMetrics(tmp_path, "-influx.maxLineSize=1KB")
    store = Influx2Store(vm.url, spool_dir=spool, retry_ms=50, max_retry_time_ms=200)
    try:
        # The server is down: the files it would have to judge wait (transient), the ones
        # that are no line protocol go at once, and nothing stops the round early on them.
        assert store.replay_spool() == 0
        assert spool_files(spool) == ["1000-refused.lp", "1004-good.lp"]
        assert spool_files(quarantine) == [
            "1001-binary.lp", "1001-binary.lp.reason", "1002-json.lp", "1002-json.lp.reason",
            "1003-folder.lp", "1003-folder.lp.reason",
        ]  # fmt: skip
        assert "not UTF-8" in (quarantine / "1001-binary.lp.reason").read_text()
        assert "not line protocol" in (quarantine / "1002-json.lp.reason").read_text()
        assert "unreadable" in (quarantine / "1003-folder.lp.reason").read_text()

        vm.start()
        # The file the server refuses (HTTP 400) is quarantined; the one after it replays.
        wait_for(lambda: store.replay_spool() >= 0 and not spool_files(spool), 30, "an empty spool")
        reason = (quarantine / "1000-refused.lp.reason").read_text()
        assert "HTTP 400" in reason and "too long line" in reason
        assert (quarantine / "1000-refused.lp").read_text() == too_long  # kept as it was
        assert store.quarantined_files == 4
        assert stored_seqs(vm, "m1") == list(range(1, 11))
    finally:
        store.close()
        vm.stop()


def test_a_write_the_server_refuses_raises_permanent_and_spools_nothing(tmp_path):
    vm = VictoriaMetrics(tmp_path, "-influx.maxLineSize=1KB").start()
    store = Influx2Store(vm.url, spool_dir=tmp_path / "spool", retry_ms=50, max_retry_time_ms=500)
    try:
        bad = Record("acme", "hcm", "a", "l1", "m9", "status", clock.now_ms(), None,
                     {"online": True, "kind": "x" * 2000})  # fmt: skip
        with pytest.raises(PermanentStoreError, match="HTTP 400"):
            store.write([bad])
        assert spool_files(tmp_path / "spool") == [] and store.spooled_lines == 0
        store.write(energy("m1", range(1, 6)))  # the caller's good records still go
        assert stored_seqs(vm, "m1") == [1, 2, 3, 4, 5]
    finally:
        store.close()
        vm.stop()


def test_a_write_returns_only_once_its_own_lines_are_stored(tmp_path):
    """A first write times out (the server is frozen: connections open, no answer) and is
    spooled; once the server answers again, every later write() must find its own points
    stored the moment it returns, whatever happens to the first write's requests."""
    vm = VictoriaMetrics(tmp_path).start()
    store = Influx2Store(vm.url, spool_dir=tmp_path / "spool", retry_ms=100,
                         max_retry_time_ms=1500, timeout_ms=500)  # fmt: skip
    try:
        vm.freeze()
        try:
            t0 = time.monotonic()
            store.write(energy("m1", range(1, 51)))  # times out, retries, is spooled
            assert time.monotonic() - t0 < 10
            assert store.spooled_lines == 51  # 50 and m1's `heard` point
        finally:
            vm.thaw()
        # The frozen requests are now answered late, the replayer runs: neither can settle
        # a later write for it. Each write's own points are there when it returns.
        for k in range(20):
            seqs = range(10 * k + 1, 10 * k + 11)
            store.write(energy("m2", seqs))
            # Counted in what VictoriaMetrics exports the moment write() returned.
            assert vm.count('energy_seq{machine="m2"}') >= 10 * (k + 1), k
            assert set(stored_seqs(vm, "m2")) == set(range(1, 10 * k + 11)), k
        wait_for(lambda: not spool_files(tmp_path / "spool"), 30, "the spool replayed")
        assert sorted(set(stored_seqs(vm, "m1"))) == list(range(1, 51))
    finally:
        store.close()
        vm.stop()


def test_a_read_only_store_starts_no_writer_and_makes_no_spool(tmp_path, monkeypatch):
    vm = VictoriaMetrics(tmp_path).start()
    monkeypatch.chdir(tmp_path)
    try:
        before = {t.name for t in threading.enumerate()}
        store = open_store(vm.url, read_only=True)  # the default spool: data/influx-spool
        assert isinstance(store, Influx2Store) and store.read_only
        assert "influx-spool" not in {t.name for t in threading.enumerate()} - before
        assert not (tmp_path / "data").exists()
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            store.write(energy("m1", range(1, 3)))
        assert store.replay_spool() == 0
        store.close()
        assert not (tmp_path / "data").exists()
        assert stored_seqs(vm, "m1") == []
        # The readers: `shopfloor kpi` makes no spool folder either (whatever it can read).
        run = subprocess.run(cli("kpi", "--store", vm.url), cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert not (tmp_path / "data").exists(), run.stderr
    finally:
        vm.stop()


def test_a_5xx_is_transient_the_file_waits_and_the_next_ones_are_tried(tmp_path):
    """VictoriaMetrics cannot be made to answer 5xx on demand: a stub that answers 503 to
    every write and counts the requests."""
    import http.server

    hits: list[str] = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"busy")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"influxdb://127.0.0.1:{server.server_address[1]}/shopfloor?org=acme"
    spool = tmp_path / "spool"
    store = Influx2Store(url, spool_dir=spool, retry_ms=50, max_retry_time_ms=400)
    try:
        store.write(energy("m1", range(1, 4)))  # retried, then spooled: durable, so it returns
        assert len(hits) >= 2 and store.spooled_lines == 4
        files = spool_files(spool)
        hits.clear()
        assert store.replay_spool() == 0
        assert len(hits) == len(files)  # every file was tried: a 503 is about one request
        assert spool_files(spool) == files  # and each waits for a later round
        assert not (tmp_path / "spool-quarantine").exists()
    finally:
        store.close()
        server.shutdown()
