"""A legacy machine's estimated meter survives a collector that starts while its store is down.

The collector seeds each legacy machine's estimated meter from the store's newest reading at
start; with the store unreachable then, the meter began at 0 and a range across the restart
lost everything before it (max(0, e1 - e0)). Now the first write adds the stored reading to the
meter and to every reading held. Real broker, real collectors, SQLite; the ground truth is
the power published: a constant 22 kW for two hours is 44 kWh.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.metrics import Metrics
from collector.service import Collector
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.base import StoreError
from shopfloor.store.report import report_from_store
from shopfloor.store.sqlite import SqliteStore
from tests.support import Subscriber, running_broker, wait_for

T0 = 1_795_400_000_000
DAY_MS = 86_400_000
TOPIC = "shopfloor/v1/acme/hcm/assembly/assembly-1/press-01"
POWER = dict.fromkeys(("off", "idle", "starved", "blocked", "planned_stop"), 0.0)
POWER.update(running=22.0, down=0.5, setup=4.0)
BIRTH = {"online": True, "ts": T0 - 1000, "kind": "press", "position": 0, "line_length": 1,
         "connectivity": "legacy", "ideal_cycle_s": 6.0, "power_kw": POWER,
         "sample_interval_s": 10}  # fmt: skip
SAMPLES_PER_HOUR = 361  # 0 s .. 3600 s every 10 s: one hour integrated


class FlakyStore(SqliteStore):
    """SQLite that refuses every call while `down`, as a store that is not reachable does."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise StoreError("connection refused (test)")

    def max_seq(self):
        self._check()
        return super().max_seq()

    def machines(self):
        self._check()
        return super().machines()

    def write(self, records):
        self._check()
        return super().write(records)


def newest_kwh(db: Path) -> float:
    store = SqliteStore(db, read_only=True)
    try:
        got = store.counter_at("energy", 2**62, "press-01").get("press-01")
        return float(got[1]["energy_kwh"]) if got else -1.0
    finally:
        store.close()


def collector(broker, store) -> Collector:
    col = Collector(
        parse_broker_url(broker.url),
        store,
        client_id="legacy-store-down",  # one session across the restart
        metrics=Metrics(),
        max_future_ms=3650 * DAY_MS,
    ).start()
    wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "subscribed")
    return col


def publish_hour(pub: Subscriber, first_seq: int, t0: int) -> None:
    for i in range(SAMPLES_PER_HOUR):
        pub.publish(
            f"{TOPIC}/telemetry",
            {"ts": t0 + 10_000 * i, "seq": first_seq + i, "power_kw": 22.0},
        )


@pytest.mark.parametrize("store_back", ["before the samples", "while samples wait"])
def test_meter_goes_on_when_the_store_was_down_at_start(tmp_path, store_back):
    db = tmp_path / "s.db"
    with running_broker() as broker:
        pub = Subscriber(broker.port, f"{TOPIC}/nothing")
        try:
            # Retained, as the simulator's birth is: the second collector learns it on subscribe.
            pub.client.publish(
                f"{TOPIC}/status", json.dumps(BIRTH), qos=1, retain=True
            ).wait_for_publish(5)
            first = collector(broker, FlakyStore(db))
            publish_hour(pub, 1, T0)
            wait_for(lambda: newest_kwh(db) >= 21.99, 60, "the first hour stored")
            first.stop()
            assert newest_kwh(db) == pytest.approx(22.0, abs=1e-3)

            store = FlakyStore(db)
            store.down = True
            second = collector(broker, store)  # its start-up reads fail: no seed
            try:
                if store_back == "before the samples":
                    store.down = False
                # Another hour, after a gap the meter does not bridge (the collector was away).
                publish_hour(pub, SAMPLES_PER_HOUR + 1, T0 + 3_700_000)
                if store_back == "while samples wait":
                    wait_for(
                        lambda: (
                            second.metrics.value("shopfloor_collector_write_errors_total") or None
                        ),
                        30,
                        "a failed write",
                    )
                    store.down = False
                wait_for(lambda: newest_kwh(db) >= 43.99, 60, "the second hour stored")
            finally:
                second.stop()
        finally:
            pub.close()
    assert newest_kwh(db) == pytest.approx(44.0, abs=1e-3)
    # A range across the restart reports both hours (it reported about 22 before the fix).
    reader = SqliteStore(db, read_only=True)
    try:
        report = report_from_store(reader, T0 - 60_000, T0 + 8 * 3_600_000)
    finally:
        reader.close()
    assert report["machines"]["press-01"]["energy_kwh"] == pytest.approx(44.0, abs=1e-3)
