"""Every channel of the contract through Sparkplug B and back: a seeded run with work orders
and raw material (the order and material channels, mapped by the naming rule, not by a table
line) is published as Sparkplug, decoded by the collector's intake, and each record equals
the one the collector makes of the same message in JSON (collector.validate)."""

from __future__ import annotations

from typing import Any

from collector.sparkplug_in import SparkplugIntake
from collector.validate import validate
from shopfloor import clock, contract
from shopfloor.config.load import parse_config
from simulator.run import run
from simulator.sinks import FanoutSink, ListSink
from simulator.sparkplug_sink import SparkplugSink
from tests.simulator.helpers import START_MS

DAY = 86400.0


class _Raw:
    """The MQTT sink's raw side, in memory: what would go to the broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.json: list[tuple[str, dict[str, Any]]] = []

    def emit_raw(self, topic: str, data: bytes, retain: bool, seq: int | None = None) -> None:
        assert retain is False  # Sparkplug never retains
        self.sent.append((topic, data))

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.json.append((topic, payload))

    def pump(self) -> None:
        pass

    def close(self) -> None:
        pass


def _config() -> Any:
    return parse_config(
        {
            "plant": {"enterprise": "acme", "site": "rt"},
            "seed": 5,
            "telemetry": {"sample_interval_s": 300, "energy_interval_s": 900},
            "suppliers": [{"id": "steelco", "lead_time_h": {"mean": 2, "dist": "exponential"}}],
            "materials": [
                {
                    "id": "steel",
                    "supplier": "steelco",
                    "initial": 30,
                    "reorder_point": 10,
                    "reorder_qty": 40,
                },
            ],
            "products": [{"id": "A", "line": "L1"}],
            "orders": {
                "plan": [
                    {"id": "o1", "product": "A", "quantity": 20, "release_h": 1, "due_h": 6},
                    {"id": "o2", "product": "A", "quantity": 30, "release_h": 3, "due_h": 8},
                ]
            },
            "lines": [
                {
                    "id": "L1",
                    "area": "a",
                    "materials": {"steel": 1},
                    "stations": [
                        {
                            "id": "m1",
                            "kind": "cnc",
                            "ideal_cycle_s": 60,
                            "mtbf_min": 120,
                            "mttr_min": 10,
                            "scrap_rate": 0.05,
                            "power_kw": {"running": 5, "idle": 1},
                        },
                        {
                            "id": "m2",
                            "kind": "press",
                            "ideal_cycle_s": 50,
                            "connectivity": "legacy",
                            "power_kw": {"running": 8, "idle": 2},
                        },
                    ],
                }
            ],
        }
    )


def test_every_channel_maps_back_to_what_json_stores() -> None:
    cfg = _config()
    raw = _Raw()
    listing = ListSink()
    spb = SparkplugSink(raw, [("acme", "rt", "a", "L1")], packml=True)
    run(cfg, FanoutSink(listing, spb), START_MS, DAY, seed=5)
    machine_msgs = [(t, p) for t, p, _ in listing.messages if contract.parse_topic(t) is not None]
    channels = {contract.parse_topic(t).channel for t, _ in machine_msgs}  # type: ignore[union-attr]
    # The run exercised every channel the contract has for machines.
    assert channels == {*contract.SEQ_CHANNELS, "status"}, channels
    now = clock.now_ms() + 400 * 86_400_000  # the run's ts are history to this collector
    want = []
    for t, p in machine_msgs:
        rec = validate(t, contract_json(p), now, 86_400_000, 1 << 20)
        assert not hasattr(rec, "reason"), (t, rec)
        want.append(rec)
    intake = SparkplugIntake()
    got = []
    for t, data in raw.sent:
        out = intake.validate(t, data, now, 86_400_000, 1 << 20)
        assert isinstance(out, list) or type(out).__name__ == "Ignore", (t, out)
        if isinstance(out, list):
            got += out
    # Beyond the JSON stream's records: a device born again because a field appeared after
    # its birth (an order's start_ts; the same properties, a later ts), and the clean stop's
    # NDEATH, which repeats each device's DDEATH.
    births = {r.machine: r.payload for r in want if r.channel == "status" and r.payload["online"]}
    rest, born = [], set()
    for r in got:
        if r.channel == "status" and r.payload["online"]:
            assert {**r.payload, "ts": 0} == {**births[r.machine], "ts": 0}
            if r.machine in born:
                continue  # born again: one birth per machine in the JSON stream
            born.add(r.machine)
        rest.append(r)
    extra = rest[len(want) :]
    assert sorted(r.machine for r in extra) == ["m1", "m2"]
    assert all(r.payload == {"online": False, "ts": r.ts} for r in extra)
    assert rest[: len(want)] == want
    # Nothing but the commands' replies went through as JSON: the plant sent none here.
    assert raw.json == []


def contract_json(payload: dict[str, Any]) -> bytes:
    import orjson

    return orjson.dumps(payload)
