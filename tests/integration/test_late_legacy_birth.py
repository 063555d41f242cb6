"""The collector's buffer bound with a late legacy birth (collector/legacy.py): a restarted
collector keeps a stroke-metered machine's samples that came before its birth, and counts
their cycles when the birth comes, every counted cycle a record of that one message. With a
bound of 40 records, 20 held and the store locked, the birth waits until they fit (the bound
assumed at most 4 records a message, so it was taken and the buffer held 20 + its cycles).
The simulator's own messages (a stroke meter sampled every second); real broker, real SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from collector.deadletter import DeadLetter
from collector.metrics import Metrics
from collector.service import Collector
from shopfloor.config import parse_config
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.simulator.test_meter import PRESS, SHIFT_A_MS, metered_plant
from tests.support import Subscriber, running_broker, wait_for


def press_counts(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM counts WHERE machine = ?", (PRESS,)).fetchone()[0]
    finally:
        con.close()


def press_samples(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM samples WHERE machine = ?", (PRESS,)).fetchone()[0]
    except sqlite3.OperationalError:  # no table yet
        return 0
    finally:
        con.close()


def collector(broker, db: Path, **kw) -> Collector:
    col = Collector(
        parse_broker_url(broker.url),
        SqliteStore(db),
        client_id=kw.pop("client_id"),
        dead_letter=DeadLetter(db.with_name("dead.jsonl")),
        metrics=Metrics(),
        max_future_ms=3650 * 86_400_000,
        on_fatal=print,
        **kw,
    ).start()
    wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "subscribed")
    return col


def test_a_late_legacy_birth_waits_until_its_counted_cycles_fit_the_buffer(tmp_path: Path):
    sink = ListSink()
    run(parse_config(metered_plant(sample_s=1)), sink, SHIFT_A_MS, 1800.0)
    mine = [(t, p) for t, p, _ in sink.messages if t.split("/")[6] == PRESS]
    (birth,) = [(t, p) for t, p in mine if t.endswith("/status") and p.get("online")]
    samples = [(t, p) for t, p in mine if t.endswith("/telemetry")]
    first, later = samples[:600], samples[600:]
    db = tmp_path / "s.db"
    with running_broker("mosquitto") as broker:
        pub = Subscriber(broker.port, "nothing/#")
        # A first collector learns the press from its birth and counts cycles.
        col = collector(broker, db, client_id="late-birth-1")
        try:
            pub.publish(*birth)
            for t, p in first:
                pub.client.publish(t, json.dumps(p), qos=1)
            wait_for(lambda: press_samples(db) == len(first), 60, "the first samples stored")
        finally:
            col.stop()
        assert press_counts(db) > 0
        # A restarted one, whose broker session holds no birth: the samples wait for it.
        col = collector(broker, db, client_id="late-birth-2", buffer_limit=40)
        blocker = None
        try:
            for t, p in later:
                pub.client.publish(t, json.dumps(p), qos=1)
            wait_for(
                lambda: len(col.power_states.awaiting.get(PRESS, ())) == len(later),
                60,
                "the samples waiting for the birth",
            )
            wait_for(lambda: press_samples(db) == len(samples), 60, "the samples stored")
            counted_before = press_counts(db)
            col.store.db.execute("PRAGMA busy_timeout = 100")
            blocker = sqlite3.connect(db, timeout=0.1)
            blocker.execute("BEGIN EXCLUSIVE")
            base = "shopfloor/v1/acme/hcm/a/l1/m1/energy"
            for seq in range(1, 21):
                pub.client.publish(
                    base,
                    json.dumps({"ts": SHIFT_A_MS + seq, "seq": seq, "energy_kwh": float(seq)}),
                    qos=1,
                )
            wait_for(lambda: col._held() == 20, 20, "20 records held")
            pub.publish(*birth)
            wait_for(
                lambda: col.metrics.value("shopfloor_collector_waiting") > 0 or col._held() > 40,
                20,
                "the birth waiting (or taken)",
            )
            blocker.rollback()
            blocker.close()
            blocker = None
            wait_for(lambda: press_counts(db) > counted_before, 60, "the waited cycles counted")
            wait_for(lambda: not col._held() and not col._waiting, 60, "all stored")
            assert col.failure() is None
        finally:
            if blocker is not None:
                blocker.rollback()
                blocker.close()
            col.stop()
            pub.close()
    cycles = press_counts(db) - counted_before
    assert cycles > 20  # more than the 20 records' room left: the old bound let it in
    assert 0 < col.metrics.value("shopfloor_collector_buffered_peak") <= 40
