"""The collector ingests Sparkplug B beside our JSON (by the topic namespace spBv1.0/): what
another library encodes is stored like the JSON it stands for, malformed payloads go to the
dead letters without stopping storage, duplicates are dropped by our Seq, and a full pipeline
run in Sparkplug reconciles with the simulator's ground truth as the JSON one does."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pysparkplug as psp
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor import clock
from shopfloor.broker import free_port
from tests.integration.test_collector import handled, start_collector, stored_seqs
from tests.support import ROOT, cli, collector_subscribed, run_cli, running_broker, wait_for

RECONCILE = ROOT / "config" / "reconcile.yaml"
GROUP, NODE, DEVICE = "acme:hcm", "a:l1", "m1"
DT = psp.DataType


def _metric(name: str | None, dt: psp.DataType, value: Any, ts: int, alias: int | None = None):
    return psp.Metric(timestamp=ts, name=name, datatype=dt, value=value, alias=alias)


def _ddata(ts: int, seq: int, *metrics: psp.Metric) -> bytes:
    return psp.DData(timestamp=ts, seq=seq % 256, metrics=metrics).encode()


class _Pub:
    def __init__(self, port: int):
        self.ncmd: list[bytes] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"spb-pub-{id(self)}")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("spBv1.0/+/NCMD/#", qos=1)
        self.client.on_subscribe = lambda c, u, m, r, p: self.ready.set()
        self.client.on_message = lambda c, u, m: self.ncmd.append(bytes(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.ready.is_set, 10, "subscribed")

    def publish(self, topic: str, data: bytes) -> None:
        self.client.publish(topic, data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_malformed_sparkplug_is_dead_lettered_and_storage_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    now = clock.now_ms()
    t = f"spBv1.0/{GROUP}/DDATA/{NODE}/{DEVICE}"
    state = [
        _metric("State", DT.STRING, "running", now),
        _metric("State/Reason", DT.STRING, "", now),
    ]
    bad = [
        (t, b"\xff\xff\xff not protobuf", "not_protobuf"),
        (f"spBv1.0/acme-hcm/DDATA/{NODE}/{DEVICE}", _ddata(now, 1, *state), "bad_topic"),
        (f"spBv1.0/{GROUP}/DDATA/a:l 1/{DEVICE}", _ddata(now, 1, *state), "bad_topic"),
        # An alias of a process value no DBIRTH named (the collector asks for a rebirth).
        (t, _ddata(now, 1, _metric(None, DT.DOUBLE, 3.5, now, alias=1150)), "unknown_alias"),
        (t, _ddata(now, 1, *state), "schema"),  # no Seq: dedup has nothing to go by
        (
            t,
            _ddata(
                now,
                1,
                _metric("Seq", DT.UINT64, 1, now),
                *state,
                _metric("Energy/kWh", DT.DOUBLE, 1.0, now),
            ),
            "schema",
        ),  # two channels
        (
            t,
            _ddata(
                now,
                1,
                _metric("Seq", DT.UINT64, 1, now),
                _metric("State", DT.STRING, "dancing", now),
            ),
            "schema",
        ),
        (
            t,
            _ddata(
                now + 10 * 86_400_000,
                1,
                _metric("Seq", DT.UINT64, 1, now + 10 * 86_400_000),
                _metric("Energy/kWh", DT.DOUBLE, 1.0, now + 10 * 86_400_000),
            ),
            "future_ts",
        ),
        (
            t,
            _ddata(
                now,
                1,
                _metric("Seq", DT.UINT64, 1, now),
                _metric("Power/kW", DT.DOUBLE, float("nan"), now),
            ),
            "non_finite",
        ),
    ]
    birth = psp.DBirth(
        timestamp=now,
        seq=1,
        metrics=(
            _metric("Seq", DT.UINT64, None, now, alias=1001),
            _metric("Power/kW", DT.DOUBLE, None, now, alias=1030),
            _metric("Process/spindle_temp_c", DT.DOUBLE, None, now, alias=1100),
            _metric("Properties/kind", DT.STRING, "cnc", now, alias=1101),
            _metric("Properties/position", DT.INT64, 0, now, alias=1102),
            _metric("Properties/line_length", DT.INT64, 1, now, alias=1103),
            _metric("Properties/connectivity", DT.STRING, "full", now, alias=1104),
            _metric("Properties/ideal_cycle_s", DT.DOUBLE, 40.0, now, alias=1105),
            _metric("Properties/sample_interval_s", DT.DOUBLE, 60.0, now, alias=1106),
            *(
                _metric(f"Properties/power_kw/{s}", DT.DOUBLE, 1.0, now, alias=1110 + i)
                for i, s in enumerate(
                    (
                        "running",
                        "idle",
                        "starved",
                        "blocked",
                        "down",
                        "setup",
                        "planned_stop",
                        "off",
                    )
                )
            ),
        ),
    )
    good = [
        (f"spBv1.0/{GROUP}/DBIRTH/{NODE}/{DEVICE}", birth.encode()),
        # By name, by the birth's aliases, and by a fixed alias alone (Energy/kWh's code 40).
        (t, _ddata(now, 2, _metric("Seq", DT.UINT64, 1, now), *state)),
        (
            t,
            _ddata(
                now + 1,
                3,
                _metric(None, DT.UINT64, 2, now + 1, alias=1001),
                _metric(None, DT.DOUBLE, 5.5, now + 1, alias=1030),
                _metric(None, DT.DOUBLE, 40.25, now + 1, alias=1100),
            ),
        ),
        (
            t,
            _ddata(
                now + 2,
                4,
                _metric(None, DT.UINT64, 3, now + 2, alias=1001),
                _metric(None, DT.DOUBLE, 0.25, now + 2, alias=1040),
            ),
        ),
        # The same message again (a redelivery): dropped by its Seq, not stored twice.
        (
            t,
            _ddata(
                now + 2,
                5,
                _metric(None, DT.UINT64, 3, now + 2, alias=1001),
                _metric(None, DT.DOUBLE, 0.25, now + 2, alias=1040),
            ),
        ),
    ]
    with running_broker("mosquitto") as broker:
        col = start_collector(broker, db)
        pub = _Pub(broker.port)
        try:
            for i, (topic, raw, _) in enumerate(bad):
                pub.publish(topic, raw)
                if i == 2:
                    pub.publish(*good[0])  # good messages between a flood of bad ones
            for topic, raw in good[1:]:
                pub.publish(topic, raw)
            wait_for(lambda: handled(col) >= len(bad) + len(good), 20, "all handled")
            wait_for(lambda: pub.ncmd, 10, "the collector's rebirth request")
            assert psp.NCmd.decode(pub.ncmd[0]).metrics[0].name == "Node Control/Rebirth"
            assert psp.NCmd.decode(pub.ncmd[0]).metrics[0].value is True
            assert col.metrics.total("shopfloor_collector_duplicates") == 1
        finally:
            col.stop()
            pub.close()
    lines = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [x["reason"] for x in lines] == [r for *_, r in bad]
    assert all(x["detail"] for x in lines)
    assert stored_seqs(db) == {"m1": {1, 2, 3}}
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT state, reason FROM states").fetchall() == [("running", "")]
        (values,) = con.execute('SELECT "values" FROM samples').fetchone()
        assert json.loads(values) == {"spindle_temp_c": 40.25}
        assert con.execute("SELECT energy_kwh FROM energy").fetchall() == [(0.25,)]
        assert con.execute("SELECT kind, online FROM machines").fetchall() == [("cnc", 1)]
    finally:
        con.close()


def test_a_sparkplug_pipeline_reconciles_with_the_ground_truth(tmp_path: Path) -> None:
    """The simulator publishes Sparkplug B, the collector stores it: counts exact, OEE within
    0.5 points, state time within 1 s, energy within 1e-3 kWh (shopfloor/tolerance.py), as for
    JSON (tests/integration/test_reconcile.py); then its NDEATH marks every machine offline."""
    store = f"sqlite:///{tmp_path / 's.db'}"
    with running_broker("mosquitto") as broker:
        metrics = free_port()
        col = subprocess.Popen(
            cli(
                "collect",
                "--broker",
                broker.url,
                "--store",
                store,
                "--metrics-port",
                str(metrics),
                "--client-id",
                "reconcile-spb",
                "--config",
                str(RECONCILE),
                "--dead-letter",
                str(tmp_path / "dead.jsonl"),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: collector_subscribed(metrics), 30, "the collector's subscription")
            out = run_cli(
                "reconcile",
                "--config",
                str(RECONCILE),
                "--broker",
                broker.url,
                "--store",
                store,
                "--duration",
                "3h",
                "--encoding",
                "sparkplug",
                timeout=180,
            )
            assert out.returncode == 0, out.stdout + out.stderr
            assert "OK: the store matches the simulator" in out.stdout
            assert "MISMATCH" not in out.stdout
        finally:
            col.send_signal(signal.SIGTERM)
            col.wait(30)
    dead = tmp_path / "dead.jsonl"
    assert not dead.exists() or dead.read_text() == ""
    con = sqlite3.connect(tmp_path / "s.db")
    try:
        # The clean stop's DDEATH and NDEATH: every machine offline.
        assert {o for (o,) in con.execute("SELECT online FROM machines")} == {0}
    finally:
        con.close()


@pytest.fixture(autouse=True)
def _need_mosquitto() -> None:
    from shopfloor.broker import find_mosquitto

    if not find_mosquitto():
        pytest.skip("Mosquitto is not installed")
