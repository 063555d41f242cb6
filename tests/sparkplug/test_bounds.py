"""The collector's Sparkplug intake against clients that invent names, through a real broker
into real SQLite: it remembers at most --spb-max-devices devices (the rest are stored, not
remembered, and counted), an NDEATH takes offline exactly the devices remembered, and rebirth
requests for unknown aliases from many invented edge nodes go out at most
--spb-rebirths-per-min a minute. And the buffer bound holds for an NDEATH of many devices."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pysparkplug as psp

from shopfloor import clock
from tests.integration.test_collector import handled, start_collector
from tests.sparkplug.test_collector import DT, GROUP, _ddata, _metric, _Pub
from tests.support import running_broker, wait_for

STATES = ("running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "off")


def birth(now: int) -> bytes:
    return psp.DBirth(
        timestamp=now,
        seq=1,
        metrics=(
            _metric("Seq", DT.UINT64, None, now, alias=1001),
            _metric("Properties/kind", DT.STRING, "cnc", now, alias=1101),
            _metric("Properties/position", DT.INT64, 0, now, alias=1102),
            _metric("Properties/line_length", DT.INT64, 1, now, alias=1103),
            _metric("Properties/connectivity", DT.STRING, "full", now, alias=1104),
            _metric("Properties/ideal_cycle_s", DT.DOUBLE, 40.0, now, alias=1105),
            _metric("Properties/sample_interval_s", DT.DOUBLE, 60.0, now, alias=1106),
            *(
                _metric(f"Properties/power_kw/{s}", DT.DOUBLE, 1.0, now, alias=1110 + i)
                for i, s in enumerate(STATES)
            ),
        ),
    ).encode()


def ndeath(now: int) -> bytes:
    return psp.NDeath(now, _metric("bdSeq", DT.UINT64, 0, now)).encode()


def online(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT machine, online FROM machines").fetchall())
    finally:
        con.close()


def test_invented_devices_and_nodes_are_bounded_and_rebirths_rate_limited(tmp_path: Path):
    db = tmp_path / "s.db"
    now = clock.now_ms()
    devices = [f"m{i:02d}" for i in range(50)]
    with running_broker("mosquitto") as broker:
        col = start_collector(broker, db, spb_max_devices=20, spb_rebirths_per_min=3)
        pub = _Pub(broker.port)
        try:
            for d in devices:
                pub.publish(f"spBv1.0/{GROUP}/DBIRTH/a:l1/{d}", birth(now))
            wait_for(lambda: handled(col) >= 50, 20, "50 births handled")
            assert sum(len(v) for v in col.sparkplug.devices.values()) == 20
            assert (
                col.metrics.value("shopfloor_collector_sparkplug_dropped_total", what="device")
                == 30
            )
            # Every birth is stored all the same: only the intake's memory is bounded.
            wait_for(lambda: len(online(db)) == 50, 20, "50 machines stored")
            pub.publish(f"spBv1.0/{GROUP}/NDEATH/a:l1", ndeath(now + 1))
            wait_for(lambda: sum(v == 0 for v in online(db).values()) == 20, 20, "20 offline")
            # Unknown aliases from 30 invented edge nodes: 30 dead letters, 3 rebirth requests.
            for i in range(30):
                pub.publish(
                    f"spBv1.0/{GROUP}/DDATA/x:n{i}/m1",
                    _ddata(now, 1, _metric(None, DT.DOUBLE, 1.0, now, alias=1150)),
                )
            wait_for(
                lambda: (
                    col.metrics.value("shopfloor_collector_rejected_total", reason="unknown_alias")
                    == 30
                ),
                20,
                "30 unknown aliases",
            )
            wait_for(lambda: len(pub.ncmd) >= 3, 10, "three rebirth requests")
            assert (
                col.metrics.value("shopfloor_collector_sparkplug_dropped_total", what="rebirth")
                == 27
            )
            # The 31st unknown alias, from a node already asked: no request either way.
            pub.publish(
                f"spBv1.0/{GROUP}/DDATA/x:n0/m1",
                _ddata(now, 2, _metric(None, DT.DOUBLE, 1.0, now, alias=1150)),
            )
            wait_for(
                lambda: (
                    col.metrics.value("shopfloor_collector_rejected_total", reason="unknown_alias")
                    == 31
                ),
                20,
                "31 unknown aliases",
            )
            assert col.failure() is None
        finally:
            col.stop()
            pub.close()
    assert len(pub.ncmd) == 3
    assert all(psp.NCmd.decode(raw).metrics[0].name == "Node Control/Rebirth" for raw in pub.ncmd)
    assert sorted(m for m, v in online(db).items() if v == 0) == sorted(
        m for v in col.sparkplug.devices.values() for m in v
    )


def test_edge_nodes_beyond_spb_max_nodes_are_stored_not_remembered(tmp_path: Path):
    """--spb-max-nodes 3: births from 5 invented edge nodes are all stored; 3 nodes are
    remembered, so only their NDEATHs take devices offline; the 2 others are counted."""
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker("mosquitto") as broker:
        col = start_collector(broker, db, spb_max_nodes=3)
        pub = _Pub(broker.port)
        try:
            for n in range(5):
                pub.publish(f"spBv1.0/{GROUP}/DBIRTH/a:l{n}/m{n}", birth(now))
            wait_for(lambda: len(online(db)) == 5, 20, "5 births stored")
            remembered = sorted(node for _, node in col.sparkplug.devices)
            assert len(remembered) == 3, remembered
            assert (
                col.metrics.value("shopfloor_collector_sparkplug_dropped_total", what="node") == 2
            )
            for n in range(5):
                pub.publish(f"spBv1.0/{GROUP}/NDEATH/a:l{n}", ndeath(now + 1))
            wait_for(lambda: handled(col) >= 10, 20, "5 NDEATHs handled")
            assert col.failure() is None
        finally:
            col.stop()
            pub.close()
    offline = sorted(m for m, v in online(db).items() if v == 0)
    assert offline == sorted(f"m{node[1:]}" for node in (x.split(":")[1] for x in remembered))


def test_the_spb_max_nodes_option_reaches_the_intake(tmp_path: Path):
    """`shopfloor collect --spb-max-nodes 2` as a user runs it: births from 3 edge nodes, all
    stored, one node counted as not remembered on /metrics."""
    import signal
    import subprocess

    from shopfloor.broker import free_port
    from tests.integration.test_collector_faults import scraped
    from tests.support import cli

    db, metrics = tmp_path / "s.db", free_port()
    now = clock.now_ms()
    with running_broker("mosquitto") as broker:
        col = subprocess.Popen(
            cli("collect", "--broker", broker.url, "--store", f"sqlite:///{db}",
                "--metrics-port", str(metrics), "--spb-max-nodes", "2"),
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        pub = _Pub(broker.port)
        try:

            def subscribed() -> bool:
                try:
                    return scraped(metrics, "shopfloor_collector_subscribed") == 1
                except OSError:  # not listening yet
                    return False

            wait_for(subscribed, 30, "the collector subscribed")
            for n in range(3):
                pub.publish(f"spBv1.0/{GROUP}/DBIRTH/a:l{n}/m{n}", birth(now))
            wait_for(lambda: db.exists() and len(online(db)) == 3, 20, "3 births stored")
            dropped = 'shopfloor_collector_sparkplug_dropped_total{what="node"}'
            wait_for(lambda: scraped(metrics, dropped) == 1, 10, "one node not remembered")
        finally:
            pub.close()
            col.send_signal(signal.SIGTERM)
            _, err = col.communicate(timeout=30)
    assert col.returncode == 0, err


def test_spb_bounds_default_to_room_for_the_plant_config():
    from shopfloor.cli.collect_cmd import spb_bounds
    from shopfloor.config import load_config
    from tests.support import PLANT

    big = load_config(PLANT)
    # A site of 1,200 lines of 10 machines: more than either default.
    lines = [
        big.lines[0].model_copy(
            update={
                "id": f"l{i}",
                "stations": [
                    st.model_copy(update={"id": f"l{i}-m{k}"})
                    for k, st in enumerate(big.lines[0].stations * 3)
                    if k < 10
                ],
            }
        )
        for i in range(1200)
    ]
    site = big.model_copy(update={"lines": lines})
    assert spb_bounds(None, None, site) == (12_000, 1_200)
    assert spb_bounds(None, None, big) == (10_000, 1_000)  # a small plant: the defaults
    assert spb_bounds(None, None, None) == (10_000, 1_000)
    assert spb_bounds(50, 7, site) == (50, 7)  # what is given, as given


def test_the_buffer_bound_holds_for_an_ndeath_of_many_devices(tmp_path: Path):
    """Buffer bound 40, store locked: 20 births of one node's devices buffered, then the
    NDEATH of another node of 30 devices, 30 records from one message (the bound assumed at
    most 4): it waits, unhandled, until the store has taken the 20; never more than 40 held."""
    db = tmp_path / "s.db"
    now = clock.now_ms()
    with running_broker("mosquitto") as broker:
        col = start_collector(broker, db, buffer_limit=40, on_fatal=print)
        pub = _Pub(broker.port)
        blocker = None
        try:
            for i in range(30):
                pub.publish(f"spBv1.0/{GROUP}/DBIRTH/a:l1/d{i:02d}", birth(now))
            wait_for(lambda: len(online(db)) == 30, 20, "30 births stored")
            col.store.db.execute("PRAGMA busy_timeout = 100")
            blocker = sqlite3.connect(db, timeout=0.1)
            blocker.execute("BEGIN EXCLUSIVE")
            for i in range(20):
                pub.publish(f"spBv1.0/{GROUP}/DBIRTH/a:l2/e{i:02d}", birth(now))
            wait_for(lambda: col._held() == 20, 20, "20 births held")
            pub.publish(f"spBv1.0/{GROUP}/NDEATH/a:l1", ndeath(now + 1))
            wait_for(
                lambda: col.metrics.value("shopfloor_collector_waiting") > 0 or col._held() > 40,
                20,
                "the NDEATH waiting (or taken)",
            )
            blocker.rollback()
            blocker.close()
            blocker = None
            wait_for(lambda: sum(v == 0 for v in online(db).values()) == 30, 60, "30 offline")
            assert col.failure() is None
        finally:
            if blocker is not None:
                blocker.rollback()
                blocker.close()
            col.stop()
            pub.close()
    states = online(db)
    assert len(states) == 50
    assert {m for m, v in states.items() if v == 0} == {f"d{i:02d}" for i in range(30)}
    assert 0 < col.metrics.value("shopfloor_collector_buffered_peak") <= 40
