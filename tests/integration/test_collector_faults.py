"""Faults the collector must survive (issue 14): a message whose handling raises, records a
store refuses, a store that stalls, a full buffer, a dying writer, SIGTERM with the store up
and down, machines that are in no config. Real Mosquitto/amqtt, real SQLite, real InfluxDB 1.x.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import collector.metrics as metrics_mod
import collector.service as service
from collector.deadletter import DeadLetter
from collector.metrics import Metrics
from collector.service import Collector
from shopfloor import clock
from shopfloor.broker import free_port
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.base import PermanentStoreError, Record, StoreError
from shopfloor.store.influx1 import Influx1Store
from shopfloor.store.sqlite import SqliteStore
from tests.integration.test_collector import stored_seqs
from tests.servers import influxd, influxd_path
from tests.support import (
    BROKER_KINDS,
    PLANT,
    ROOT,
    Subscriber,
    cli,
    collector_subscribed,
    complete_lines,
    read_jsonl,
    running_broker,
    wait_for,
)

BASE = "shopfloor/v1/acme/hcm/a/l1"


def energy(seq: int, now: int) -> bytes:
    return json.dumps({"ts": now + seq, "seq": seq, "energy_kwh": float(seq)}).encode()


def make_collector(broker, store, tmp_path: Path, **kw) -> Collector:
    col = Collector(
        parse_broker_url(broker.url),
        store,
        client_id=kw.pop("client_id", f"faults-{tmp_path.name}"),
        dead_letter=DeadLetter(tmp_path / "dead.jsonl"),
        **kw,
    ).start()
    wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "subscribed")
    return col


def dead(tmp_path: Path) -> list[dict]:
    path = tmp_path / "dead.jsonl"
    return read_jsonl(path) if path.exists() else []


def http_status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scraped(port: int, name: str) -> float:
    """One sample of a collector's /metrics (0 when absent)."""
    for line in http_status(f"http://127.0.0.1:{port}/metrics")[1].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def count_record(seq: int, total: int, now: int) -> Record:
    return Record("acme", "hcm", "a", "l1", "m1", "count", now + seq, seq,
                  {"ts": now + seq, "seq": seq, "total": total, "good": 0, "scrap": 0})  # fmt: skip


# -- 1. no exception from one message escapes paho's callback ----------------------------------


def test_a_message_whose_handling_raises_is_dead_lettered_and_later_ones_are_stored(
    tmp_path, monkeypatch
):
    real = service.validate

    def flaky(topic: str, raw: bytes, *args):
        if "/boom/" in topic:
            raise RuntimeError("injected fault")
        return real(topic, raw, *args)

    monkeypatch.setattr(service, "validate", flaky)
    now = clock.now_ms()
    with running_broker() as broker:
        col = make_collector(broker, SqliteStore(tmp_path / "s.db"), tmp_path, on_fatal=pytest.fail)
        pub = Subscriber(broker.port, "nothing/#")
        pub.publish(f"{BASE}/m1/energy", energy(1, now))
        pub.publish(f"{BASE}/boom/energy", energy(1, now))
        pub.publish(f"{BASE}/boom/energy", energy(2, now))
        for seq in (2, 3):
            pub.publish(f"{BASE}/m1/energy", energy(seq, now))
        wait_for(lambda: stored_seqs(tmp_path / "s.db").get("m1") == {1, 2, 3}, 20, "later stored")
        assert col.failure() is None  # paho's network thread is alive
        col.stop()
        pub.close()
    lines = dead(tmp_path)
    assert [(x["reason"], json.loads(x["payload"])["seq"]) for x in lines] == [
        ("internal", 1),
        ("internal", 2),
    ]
    assert "RuntimeError: injected fault" in lines[0]["detail"]
    assert col.metrics.value("shopfloor_collector_internal_errors_total") == 2
    assert "boom" not in stored_seqs(tmp_path / "s.db")


# -- 2. store errors classified; a record the store refuses is found and dead-lettered ---------


def test_sqlite_classifies_a_record_it_cannot_take_as_permanent_and_stays_usable(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    now = clock.now_ms()
    with pytest.raises(PermanentStoreError, match="OverflowError"):
        store.write([count_record(1, 5, now), count_record(2, 2**63, now)])
    # The failed transaction was rolled back: the next batch goes in.
    store.write([count_record(1, 5, now), count_record(3, 7, now)])
    assert stored_seqs(tmp_path / "s.db") == {"m1": {1, 3}}
    blocker = sqlite3.connect(tmp_path / "s.db", timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    store.db.execute("PRAGMA busy_timeout = 100")
    with pytest.raises(StoreError) as err:
        store.write([count_record(4, 8, now)])
    assert not isinstance(err.value, PermanentStoreError)  # locked: transient, retried
    blocker.rollback()
    store.write([count_record(4, 8, now)])
    assert stored_seqs(tmp_path / "s.db") == {"m1": {1, 3, 4}}


def test_a_record_sqlite_refuses_is_dead_lettered_and_every_other_one_stored(tmp_path, monkeypatch):
    """A count of 2**63 (as if validation let it through) in the middle of a batch of 60."""
    real = service.validate

    def lets_one_through(topic: str, raw: bytes, *args):
        got = real(topic, raw, *args)
        if isinstance(got, Record) and got.seq == 30:
            got.payload = {**got.payload, "total": 2**63}
        return got

    monkeypatch.setattr(service, "validate", lets_one_through)
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker() as broker:
        col = make_collector(broker, SqliteStore(db), tmp_path, on_fatal=pytest.fail)
        col.store.db.execute("PRAGMA busy_timeout = 100")
        blocker = sqlite3.connect(db, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")  # the 60 pile up into one batch meanwhile
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, 61):
            body = {"ts": now + seq, "seq": seq, "total": seq, "good": seq, "scrap": 0}
            pub.client.publish(f"{BASE}/m1/count", json.dumps(body), qos=1)
        wait_for(lambda: col.metrics.value("shopfloor_collector_received_total") >= 60, 20, "60")
        wait_for(lambda: col.metrics.value("shopfloor_collector_write_errors_total") >= 1, 20, "x")
        blocker.rollback()
        blocker.close()
        wait_for(lambda: len(stored_seqs(db).get("m1", ())) == 59, 20, "59 stored")
        wait_for(lambda: not col._acks, 10, "every message acknowledged")
        col.stop()
        pub.close()
    assert stored_seqs(db) == {"m1": set(range(1, 61)) - {30}}
    lines = dead(tmp_path)
    assert len(lines) == 1
    assert lines[0]["reason"] == "store_rejected"
    assert lines[0]["topic"] == f"{BASE}/m1/count"
    assert json.loads(lines[0]["payload"])["total"] == 2**63
    assert "OverflowError" in lines[0]["detail"]
    assert col.metrics.value("shopfloor_collector_rejected_total", reason="store_rejected") == 1
    assert col.metrics.value("shopfloor_collector_stored_total") == 59


@pytest.mark.skipif(not influxd_path(), reason="influxd is not installed")
def test_a_record_influxdb_answers_400_to_is_dead_lettered_and_the_rest_stored(
    tmp_path, monkeypatch
):
    """A timestamp outside InfluxDB's range: the server answers 400 "partial write"."""
    real = service.validate

    def lets_one_through(topic: str, raw: bytes, *args):
        got = real(topic, raw, *args)
        if isinstance(got, Record) and got.seq == 7:
            got.ts = 10**13  # year 2286: beyond int64 nanoseconds
        return got

    monkeypatch.setattr(service, "validate", lets_one_through)
    now = clock.now_ms()
    with influxd(tmp_path) as server, running_broker() as broker:
        store = Influx1Store(server.url)
        with pytest.raises(PermanentStoreError, match="HTTP 400"):
            store.write([Record("acme", "hcm", "a", "l1", "m0", "energy", 10**13, 1,
                                {"energy_kwh": 1.0})])  # fmt: skip
        col = make_collector(broker, store, tmp_path, on_fatal=pytest.fail)
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, 21):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)

        def stored() -> set[int]:
            rows = store._query("SELECT \"seq\" FROM energy WHERE machine = 'm1'")
            return {int(v[1]) for res in rows for s in res for v in s["values"]}

        wait_for(lambda: len(stored()) == 19, 30, "19 points stored")
        wait_for(lambda: len(dead(tmp_path)) == 1, 10, "one dead letter")
        col.stop()
        pub.close()
        assert stored() == set(range(1, 21)) - {7}
        server.stop()
        with pytest.raises(StoreError) as err:  # connection refused: transient
            store.write([Record("acme", "hcm", "a", "l1", "m1", "energy", now, 99,
                                {"energy_kwh": 1.0})])  # fmt: skip
        assert not isinstance(err.value, PermanentStoreError)
    (line,) = dead(tmp_path)
    assert line["reason"] == "store_rejected" and "HTTP 400" in line["detail"]
    assert json.loads(line["payload"])["seq"] == 7


# -- 3. a dying worker ends the process; /health --------------------------------------------------


def test_health_is_503_while_nothing_is_stored_and_when_the_broker_is_lost(tmp_path):
    db = tmp_path / "s.db"
    now = clock.now_ms()
    metrics = Metrics()
    port = metrics.serve(0)
    health = f"http://127.0.0.1:{port}/health"
    broker_cm = running_broker()
    broker = broker_cm.__enter__()
    try:
        # A 1 s keepalive: the connection must survive the stall below (the network thread
        # does not wait on the stuck writer). Mosquitto checks keepalives coarsely, so the
        # frozen-thread test further down is what shows a silent client being dropped.
        col = make_collector(
            broker, SqliteStore(db), tmp_path, metrics=metrics, stall_after_s=2.5, keepalive=1,
            on_fatal=pytest.fail,
        )  # fmt: skip
        assert http_status(health)[0] == 200
        assert (
            "shopfloor_collector_subscribed 1.0"
            in http_status(f"http://127.0.0.1:{port}/metrics")[1]
        )
        col.store.db.execute("PRAGMA busy_timeout = 100")
        blocker = sqlite3.connect(db, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, 11):
            pub.publish(f"{BASE}/m1/energy", energy(seq, now))
        _, body = wait_for(
            lambda: (s := http_status(health))[0] == 503 and s, 20, "503 while stalled"
        )
        assert "nothing stored" in body
        assert metrics.value("shopfloor_collector_store_retrying") == 1
        assert metrics.value("shopfloor_collector_disconnects_total") == 0
        assert metrics.value("shopfloor_collector_subscribed") == 1
        blocker.rollback()
        blocker.close()
        wait_for(lambda: http_status(health)[0] == 200, 20, "200 once the store takes writes")
        assert stored_seqs(db) == {"m1": set(range(1, 11))}
        pub.close()
        broker.close()  # the broker goes away
        _, body = wait_for(
            lambda: (s := http_status(health))[0] == 503 and s, 20, "503 without the broker"
        )
        assert "not subscribed" in body
        assert metrics.value("shopfloor_collector_disconnects_total") >= 1
        col.stop(grace_s=1)
    finally:
        broker_cm.__exit__(None, None, None)
        metrics.close()


def test_a_dying_writer_calls_on_fatal_and_health_says_so(tmp_path, monkeypatch):
    died: list[BaseException] = []

    def broken(self, batch):
        raise RuntimeError("writer bug")

    monkeypatch.setattr(Collector, "_store", broken)
    with running_broker() as broker:
        col = make_collector(broker, SqliteStore(tmp_path / "s.db"), tmp_path, on_fatal=died.append)
        pub = Subscriber(broker.port, "nothing/#")
        pub.publish(f"{BASE}/m1/energy", energy(1, clock.now_ms()))
        wait_for(lambda: died, 10, "on_fatal")
        ok, why = col.health()
        assert not ok and "writer bug" in why
        assert col.failure()
        col.abort()
        pub.close()
    assert isinstance(died[0], RuntimeError)


def test_the_collect_command_exits_70_when_its_writer_dies(tmp_path):
    """The real CLI in its own process, with a writer that raises: exit 70, not a silent hang."""
    script = textwrap.dedent(
        """
        import sys
        import collector.service as service

        def broken(self, batch):
            raise RuntimeError("writer bug")

        service.Collector._store = broken
        from shopfloor.cli.main import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    with running_broker() as broker:
        metrics = free_port()  # after the broker's: never the same port
        proc = subprocess.Popen(
            [sys.executable, "-c", script, "collect", "--broker", broker.url,
             "--store", f"sqlite:///{tmp_path / 's.db'}", "--metrics-port", str(metrics),
             "--client-id", "fatal-test"],
            cwd=ROOT, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: collector_subscribed(metrics), 30, "subscribed")
        pub = Subscriber(broker.port, "nothing/#")
        pub.publish(f"{BASE}/m1/energy", energy(1, clock.now_ms()))
        _, err = proc.communicate(timeout=30)
        pub.close()
    assert proc.returncode == 70, err
    assert "writer bug" in err and "exiting with 70" in err


# -- 4. the buffer bound holds, intake pauses and resumes; SIGTERM ----------------------------------


@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_a_full_buffer_holds_messages_unacknowledged_without_blocking_and_loses_nothing(
    tmp_path, kind
):
    """Buffer bound 40, store locked while 300 arrive: never more than 40 records held, the
    rest wait unhandled and unacknowledged (a broker's inflight window stops it meanwhile),
    the connection stays up, and all 300 are stored once after."""
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker(kind) as broker:
        col = make_collector(
            broker, SqliteStore(db), tmp_path, buffer_limit=40, on_fatal=pytest.fail
        )
        col.store.db.execute("PRAGMA busy_timeout = 100")
        blocker = sqlite3.connect(db, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, 301):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)
        wait_for(lambda: col.metrics.value("shopfloor_collector_waiting") > 0, 20, "waiting")
        blocker.rollback()
        blocker.close()
        wait_for(lambda: len(stored_seqs(db).get("m1", ())) == 300, 60, "all 300 stored")
        wait_for(lambda: not col._acks, 10, "every message acknowledged")
        assert col.failure() is None
        col.stop()
        pub.close()
    assert stored_seqs(db) == {"m1": set(range(1, 301))}
    assert 0 < col.metrics.value("shopfloor_collector_buffered_peak") <= 40
    assert col.metrics.value("shopfloor_collector_waiting") == 0
    assert col.metrics.value("shopfloor_collector_disconnects_total") == 0
    assert col.metrics.value("shopfloor_collector_paused") == 0
    assert col.metrics.total("shopfloor_collector_duplicates") == 0
    assert not dead(tmp_path)


@pytest.mark.skipif("mosquitto" not in BROKER_KINDS, reason="needs a broker that keeps sessions")
def test_a_broker_that_sends_on_regardless_is_paused_by_a_disconnect_and_nothing_is_lost(
    tmp_path,
):
    """At most 10 messages may wait (fewer than Mosquitto's inflight window of 100): intake
    pauses by a deliberate disconnect, the session keeps the rest, intake resumes once the
    store has caught up, and every message is stored once."""
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker("mosquitto") as broker:
        col = make_collector(
            broker, SqliteStore(db), tmp_path, buffer_limit=40, max_waiting=10, keepalive=2,
            on_fatal=pytest.fail,
        )  # fmt: skip
        col.store.db.execute("PRAGMA busy_timeout = 100")
        blocker = sqlite3.connect(db, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, 301):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)
        wait_for(lambda: col.metrics.value("shopfloor_collector_paused") == 1, 20, "paused")
        assert col.health()[0]  # a deliberate pause is not a lost subscription
        blocker.rollback()
        blocker.close()
        wait_for(lambda: len(stored_seqs(db).get("m1", ())) == 300, 60, "all 300 stored")
        wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 20, "resumed")
        assert col.failure() is None
        col.stop()
        pub.close()
    assert stored_seqs(db) == {"m1": set(range(1, 301))}
    assert 0 < col.metrics.value("shopfloor_collector_buffered_peak") <= 40
    assert col.metrics.value("shopfloor_collector_disconnects_total") == 0  # only our pause
    assert col.metrics.value("shopfloor_collector_paused") == 0
    assert not dead(tmp_path)


def _collect_cmd(broker, db: Path, metrics: int, *extra: str) -> list[str]:
    return cli("collect", "--broker", broker.url, "--store", f"sqlite:///{db}",
               "--metrics-port", str(metrics), "--client-id", "term-test", *extra)  # fmt: skip


@pytest.mark.parametrize("store_up", [True, False], ids=["store-up", "store-down"])
def test_sigterm_stops_at_once_and_a_restart_stores_the_rest(tmp_path, store_up):
    """SIGTERM mid-stream: exit 0 within a few seconds; with the store up what was held is
    stored and acknowledged, with it down nothing is acknowledged. Either way a restarted
    collector ends with every message stored once."""
    db = tmp_path / "s.db"
    SqliteStore(db).close()
    now = clock.now_ms()
    n = 3000
    with running_broker() as broker:
        metrics = free_port()
        col = subprocess.Popen(_collect_cmd(broker, db, metrics), stderr=subprocess.PIPE, text=True)
        wait_for(lambda: collector_subscribed(metrics), 30, "subscribed")
        blocker = None
        if not store_up:
            blocker = sqlite3.connect(db, timeout=0.1)
            blocker.execute("BEGIN EXCLUSIVE")
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, n + 1):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)
        if store_up:
            wait_for(lambda: len(stored_seqs(db).get("m1", ())) > 0, 30, "storing under way")
        else:
            wait_for(lambda: scraped(metrics, "shopfloor_collector_received_total") > 0, 30, "in")
        t0 = time.monotonic()
        col.send_signal(signal.SIGTERM)
        _, err = col.communicate(timeout=15)
        took = time.monotonic() - t0
        assert col.returncode == 0, err
        assert took < 8, f"SIGTERM took {took:.1f} s"
        if store_up:
            assert "stopping without storing" not in err
            # Everything taken in was stored before the exit (no duplicates or rejects here;
            # the collector's own watermarks come back to it and are ignored).
            got = re.search(
                r"collector stopped: received=(\d+) stored=(\d+) ignored=(\d+) \(not telemetry: ",
                err,
            )
            assert got and int(got[1]) == int(got[2]) + int(got[3]) and int(got[2]) > 0, err
        else:
            assert "stopping without storing" in err, err
            blocker.rollback()
            blocker.close()
        again = subprocess.Popen(
            _collect_cmd(broker, db, metrics), stderr=subprocess.PIPE, text=True
        )
        wait_for(lambda: len(stored_seqs(db).get("m1", ())) == n, 60, f"all {n} stored")
        again.send_signal(signal.SIGTERM)
        _, err2 = again.communicate(timeout=15)
        pub.close()
    assert again.returncode == 0, err2
    assert stored_seqs(db) == {"m1": set(range(1, n + 1))}


# -- 5. unknown machines and bounded labels -------------------------------------------------------


def test_machines_not_in_the_config_are_dead_lettered(tmp_path):
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker() as broker:
        col = make_collector(
            broker, SqliteStore(db), tmp_path, machines={("a", "l1", "m1")}, on_fatal=pytest.fail
        )
        pub = Subscriber(broker.port, "nothing/#")
        pub.publish(f"{BASE}/m1/energy", energy(1, now))
        pub.publish(f"{BASE}/m2/energy", energy(1, now))
        pub.publish(f"{BASE}/ghost-01/energy", energy(1, now))
        pub.publish("shopfloor/v1/acme/hcm/a/l2/m1/energy", energy(2, now))  # wrong line
        pub.publish(f"{BASE}/m1/energy", energy(1, now))  # a duplicate of a configured one
        pub.publish(f"{BASE}/m1/energy", energy(2, now))
        m = col.metrics
        wait_for(  # handled (stored, dead-lettered, dropped), not just received: see stop()
            lambda: (
                m.value("shopfloor_collector_stored_total")
                + m.total("shopfloor_collector_rejected")
                + m.total("shopfloor_collector_duplicates")
                >= 6
            ),
            20,
            "all handled",
        )
        col.stop()
        pub.close()
    assert stored_seqs(db) == {"m1": {1, 2}}
    assert [x["reason"] for x in dead(tmp_path)] == ["unknown_machine"] * 3
    assert col.metrics.value("shopfloor_collector_rejected_total", reason="unknown_machine") == 3
    assert col.metrics.value("shopfloor_collector_duplicates_total", machine="m1") == 1


def test_machine_labels_are_bounded(monkeypatch):
    configured = Metrics({"m1"})
    configured.duplicate("m1")
    configured.duplicate("<script>")
    configured.set_gaps("x1", 2)
    configured.set_gaps("x2", 3)
    assert configured.value("shopfloor_collector_duplicates_total", machine="m1") == 1
    assert configured.value("shopfloor_collector_duplicates_total", machine="other") == 1
    assert configured.value("shopfloor_collector_seq_gaps", machine="other") == 5
    monkeypatch.setattr(metrics_mod, "MAX_MACHINE_LABELS", 3)
    capped = Metrics()
    for i in range(50):
        capped.duplicate(f"m{i}")
    labels = {
        s.labels["machine"]
        for m in capped.registry.collect()
        if m.name == "shopfloor_collector_duplicates"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert labels == {"m0", "m1", "m2", "other"}
    assert capped.value("shopfloor_collector_duplicates_total", machine="other") == 47


# -- seq quarantine (collector/seqtrack.py) wired into the collector ---------------------------


def test_a_seq_far_ahead_is_dead_lettered_live_and_retained(tmp_path):
    """seq 10**9 after 1..2 neither silences the machine nor is stored; nor is a retained
    state carrying one, which would otherwise become the next start's max_seq."""
    db = tmp_path / "s.db"
    now = clock.now_ms()
    store = SqliteStore(db)
    store.write([Record("acme", "hcm", "a", "l1", "m2", "energy", now, 5, {"energy_kwh": 1.0})])
    forged = {"ts": now, "seq": 10**9, "state": "running", "reason": ""}
    with running_broker() as broker:
        pub = Subscriber(broker.port, "nothing/#")
        pub.client.publish(
            f"{BASE}/m2/state", json.dumps(forged), qos=1, retain=True
        ).wait_for_publish(5)
        col = make_collector(broker, store, tmp_path, on_fatal=pytest.fail)
        wait_for(lambda: dead(tmp_path), 10, "the retained forgery dead-lettered")
        for seq in (1, 2, 10**9, 3, 4):
            body = {"ts": now + min(seq, 10), "seq": seq, "energy_kwh": 1.0}
            pub.publish(f"{BASE}/m1/energy", body)
        wait_for(lambda: stored_seqs(db).get("m1") == {1, 2, 3, 4}, 20, "later seqs stored")
        col.stop()
        pub.close()
    assert stored_seqs(db) == {"m1": {1, 2, 3, 4}, "m2": {5}}
    lines = dead(tmp_path)
    assert [(x["reason"], x["topic"].split("/")[6]) for x in lines] == [
        ("seq_quarantine", "m2"),
        ("seq_quarantine", "m1"),
    ]
    assert col.metrics.value("shopfloor_collector_rejected_total", reason="seq_quarantine") == 2
    assert col.metrics.total("shopfloor_collector_duplicates") == 0


def test_the_collect_command_with_a_config_takes_only_its_machines(tmp_path):
    """`shopfloor collect --config`: a machine of the plant is stored, one that is not is
    dead-lettered (beside the store), /health answers 200, labels stay the plant's."""
    from shopfloor.config import load_config
    from shopfloor.contract import topic

    cfg = load_config(PLANT)
    line, station = cfg.stations()[0]
    known = topic(cfg.plant.enterprise, cfg.plant.site, line.area, line.id, station.id, "energy")
    stranger = topic(cfg.plant.enterprise, cfg.plant.site, line.area, line.id, "ghost-01", "energy")
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker() as broker:
        metrics = free_port()  # after the broker's: never the same port
        col = subprocess.Popen(
            _collect_cmd(broker, db, metrics, "--config", str(PLANT)),
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: collector_subscribed(metrics), 30, "subscribed")
        assert http_status(f"http://127.0.0.1:{metrics}/health")[0] == 200
        pub = Subscriber(broker.port, "nothing/#")
        pub.publish(stranger, energy(1, now))
        pub.publish(known, energy(1, now))
        pub.publish(known, energy(1, now))  # a duplicate: counted under its own label
        wait_for(lambda: stored_seqs(db).get(station.id) == {1}, 20, "the plant's machine stored")
        wait_for(lambda: complete_lines(tmp_path / "dead-letter.jsonl"), 20, "a dead letter")
        body = http_status(f"http://127.0.0.1:{metrics}/metrics")[1]
        col.send_signal(signal.SIGTERM)
        _, err = col.communicate(timeout=15)
        pub.close()
    assert col.returncode == 0, err
    assert stored_seqs(db) == {station.id: {1}}
    (line_,) = read_jsonl(tmp_path / "dead-letter.jsonl")
    assert line_["reason"] == "unknown_machine" and line_["topic"] == stranger
    assert 'shopfloor_collector_rejected_total{reason="unknown_machine"} 1.0' in body
    assert f'shopfloor_collector_duplicates_total{{machine="{station.id}"}} 1.0' in body
    assert "ghost-01" not in body


@pytest.mark.slow
def test_a_large_plant_at_full_speed_through_a_small_buffer_keeps_its_connection(tmp_path):
    """Two hours of config/large.yaml (about 250k messages) published at full speed into a
    collector whose buffer holds 2,000 records: the bound holds, the broker never drops the
    collector (no keepalive loss), and every message is stored once."""
    from tests.integration.test_collector import jsonl_seqs

    db = tmp_path / "s.db"
    out = tmp_path / "run.jsonl"
    with running_broker() as broker:
        metrics = free_port()  # after the broker's: never the same port
        col = subprocess.Popen(
            _collect_cmd(broker, db, metrics, "--buffer", "2000"), stderr=subprocess.PIPE, text=True
        )
        wait_for(lambda: collector_subscribed(metrics), 30, "subscribed")
        sim = subprocess.run(
            cli("sim", "--config", str(ROOT / "config" / "large.yaml"), "--fast",
                "--start", "2026-11-23T06:00+07:00", "--duration", "2h",
                "--broker", broker.url, "--jsonl", str(out)),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert sim.returncode == 0, sim.stderr
        want = jsonl_seqs(out)
        total = sum(len(v) for v in want.values())
        wait_for(
            lambda: sum(len(v) for v in stored_seqs(db).values()) >= total, 600, f"{total} stored"
        )
        peak = scraped(metrics, "shopfloor_collector_buffered_peak")
        lost = scraped(metrics, "shopfloor_collector_disconnects_total")
        col.send_signal(signal.SIGTERM)
        _, err = col.communicate(timeout=15)
    assert col.returncode == 0, err
    assert total > 100_000
    assert stored_seqs(db) == want
    assert 0 < peak <= 2000
    assert lost == 0, err
    assert "Traceback" not in err


@pytest.mark.skipif(not influxd_path(), reason="influxd is not installed")
def test_influxdb_stopped_mid_stream_is_retried_until_it_is_back(tmp_path):
    """Connection refused is transient: the writer retries without limit (store_retrying=1),
    nothing is dead-lettered, and once influxd is back every message is stored."""
    now = clock.now_ms()
    with influxd(tmp_path) as server, running_broker() as broker:
        store = Influx1Store(server.url)
        col = make_collector(broker, store, tmp_path, on_fatal=pytest.fail)
        pub = Subscriber(broker.port, "nothing/#")

        def stored() -> set[int]:
            rows = store._query("SELECT \"seq\" FROM energy WHERE machine = 'm1'")
            return {int(v[1]) for res in rows for s in res for v in s["values"]}

        for seq in range(1, 51):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)
        wait_for(lambda: len(stored()) == 50, 30, "50 stored")
        server.stop()
        for seq in range(51, 101):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)
        wait_for(lambda: col.metrics.value("shopfloor_collector_store_retrying") == 1, 20, "retry")
        server.start()
        wait_for(lambda: len(stored()) == 100, 60, "all 100 stored")
        wait_for(lambda: col.metrics.value("shopfloor_collector_store_retrying") == 0, 10, "ok")
        col.stop()
        pub.close()
    assert not dead(tmp_path)
    assert col.metrics.value("shopfloor_collector_write_errors_total") >= 1


@pytest.mark.slow
def test_a_collector_frozen_past_its_keepalive_reconnects_and_loses_nothing(tmp_path, monkeypatch):
    """The network thread frozen for 8 s (as under SIGSTOP) with a 1 s keepalive (Mosquitto
    checks keepalives coarsely: 3 s went unnoticed, 8 s do not): the broker
    drops the connection; after the reconnect, what was not acknowledged on the old one comes
    again, is dropped as a duplicate or stored, and every message is stored exactly once."""
    real = service.validate
    frozen: list[int] = []

    def freezes_once(topic: str, raw: bytes, *args):
        got = real(topic, raw, *args)
        if isinstance(got, Record) and got.seq == 20 and not frozen:
            frozen.append(1)
            time.sleep(8)  # the fault itself: a thread that stops answering, not a wait
        return got

    monkeypatch.setattr(service, "validate", freezes_once)
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker() as broker:
        col = make_collector(broker, SqliteStore(db), tmp_path, keepalive=1, on_fatal=pytest.fail)
        pub = Subscriber(broker.port, "nothing/#")
        for seq in range(1, 61):
            pub.client.publish(f"{BASE}/m1/energy", energy(seq, now), qos=1)
        wait_for(
            lambda: col.metrics.value("shopfloor_collector_disconnects_total") >= 1, 30, "the drop"
        )
        wait_for(lambda: stored_seqs(db).get("m1") == set(range(1, 61)), 30, "all 60 stored")
        wait_for(
            lambda: not col._acks and col.metrics.value("shopfloor_collector_subscribed"), 20, ""
        )
        col.stop()
        pub.close()
    assert stored_seqs(db) == {"m1": set(range(1, 61))}
    # What the old connection had not acknowledged came again and was recognised.
    assert col.metrics.total("shopfloor_collector_duplicates") >= 1
    assert not dead(tmp_path)
    assert col.failure() is None
