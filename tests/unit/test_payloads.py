"""Strict payload validation (docs/architecture.md, The telemetry contract; issue 14): every
channel, status included, is validated into its contract model, the Record carries the model's
dump, and nothing a store cannot hold gets through."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from collector.validate import REASONS, Reject, validate
from shopfloor.config import load_config
from shopfloor.contract import (
    MAX_INT,
    MAX_PROCESS_VALUES,
    PowerByState,
    parse_topic,
)
from shopfloor.kpi import STATES
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_795_366_800_000
BASE = "shopfloor/v1/acme/hcm/a/l1/m1"
DAY_MS = 86_400_000


def check(channel: str, payload: object, topic: str | None = None) -> Record | Reject:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    got = validate(topic or f"{BASE}/{channel}", raw, NOW, DAY_MS, 65_536)
    assert isinstance(got, Record | Reject)
    if isinstance(got, Reject):
        assert got.reason in REASONS and got.detail
    return got


def rejected(channel: str, payload: object, reason: str = "schema") -> str:
    got = check(channel, payload)
    assert isinstance(got, Reject), (channel, payload, got)
    assert got.reason == reason, got
    return got.detail


def birth(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "ts": NOW,
        "online": True,
        "kind": "cnc",
        "position": 1,
        "line_length": 3,
        "connectivity": "legacy",
        "ideal_cycle_s": 30.0,
        "power_kw": dict.fromkeys(STATES, 2.5) | {"running": 11.0, "off": 0.0},
        "sample_interval_s": 10.0,
    }
    return body | changes


def test_power_by_state_has_exactly_the_kpi_states():
    assert set(PowerByState.model_fields) == set(STATES)


def test_every_message_the_simulator_sends_validates_to_itself():
    cfg = load_config(ROOT / "config" / "plant.yaml")
    sink = ListSink()
    run(cfg, sink, NOW - 3_600_000, 3600.0, speed=None)
    seen = set()
    for topic, payload, _ in sink.messages:
        channel = parse_topic(topic).channel
        got = check(channel, payload, topic)
        assert isinstance(got, Record), (topic, payload, got)
        assert got.payload == payload
        seen.add((channel, payload.get("online")))
    assert {("status", True), ("status", False), ("telemetry", None), ("count", None)} <= seen


# -- status ----------------------------------------------------------------------------------


def test_a_birth_is_stored_as_its_model():
    got = check("status", birth())
    assert isinstance(got, Record)
    assert got.payload == birth() and got.ts == NOW
    assert isinstance(got.payload["power_kw"], dict)
    # A whole number where a float is due is stored as a float: the model's dump, not the raw.
    got = check("status", birth(ideal_cycle_s=30))
    assert isinstance(got, Record) and type(got.payload["ideal_cycle_s"]) is float


def test_a_will_and_a_death_are_valid():
    will = check("status", {"online": False})
    assert isinstance(will, Record) and will.payload == {"online": False} and will.ts == NOW
    death = check("status", {"ts": NOW - 5, "online": False})
    assert isinstance(death, Record) and death.payload == {"ts": NOW - 5, "online": False}


@pytest.mark.parametrize(
    "payload",
    [
        {"online": "false"},  # a string is not a bool (it was stored as online)
        {"online": 0},
        {"online": None},
        {},
        {"ts": "x", "online": True},
        {"online": True, "connectivity": "legacy", "power_kw": {"running": "x"}},
        birth(position={"x": 1}),
        birth(position=-1),
        birth(position=3),  # not inside a line of 3
        birth(line_length=0),
        birth(position=True),
        birth(ts=2**63),
        birth(ts=-1),
        birth(kind="CNC"),
        birth(kind="cnc 01"),
        birth(kind="x" * 40),
        birth(connectivity="wireless"),
        birth(ideal_cycle_s=0.0),
        birth(ideal_cycle_s="30"),
        birth(sample_interval_s=-1.0),
        birth(power_kw={"running": 1.0}),  # every state, not some
        birth(power_kw=dict.fromkeys(STATES, 1.0) | {"dancing": 1.0}),
        birth(power_kw=dict.fromkeys(STATES, 1.0) | {"idle": -1.0}),
        birth(power_kw=dict.fromkeys(STATES, 1.0) | {"idle": "1"}),
        birth(power_kw=[1.0] * 8),
        birth(extra="field"),
        {"online": False, "kind": "cnc"},  # a death carries ts and online only
        {"ts": NOW, "online": False, "position": 0},
        {"ts": NOW, "online": True},  # a birth carries every field
        {k: v for k, v in birth().items() if k != "sample_interval_s"},
        {k: v for k, v in birth().items() if k != "ts"},
    ],
)
def test_bad_status_is_rejected(payload):
    rejected("status", payload)


def test_a_missing_birth_field_is_named():
    detail = rejected("status", {k: v for k, v in birth().items() if k != "power_kw"})
    assert "power_kw" in detail


# -- integers, floats, strings ---------------------------------------------------------------


@pytest.mark.parametrize("n", [2**53, 2**63, 2**64 - 1, -(2**53), -1])
def test_integers_outside_what_every_store_holds_are_rejected(n):
    rejected("count", {"ts": NOW, "seq": 1, "total": n, "good": 0, "scrap": 0})
    rejected("count", {"ts": NOW, "seq": n, "total": 1, "good": 1, "scrap": 0})


def test_the_largest_allowed_integers_reach_sqlite(tmp_path):
    records = []
    for channel, payload in [
        ("count", {"ts": NOW, "seq": MAX_INT, "total": MAX_INT, "good": MAX_INT, "scrap": 0}),
        ("telemetry", {"ts": NOW, "seq": MAX_INT - 1, "power_kw": 2**63, "x_c": -(2**63)}),
        ("energy", {"ts": NOW, "seq": MAX_INT - 2, "energy_kwh": 2**63}),
        ("state", {"ts": NOW, "seq": MAX_INT - 3, "state": "down", "reason": "é" * 200}),
        ("status", birth()),
    ]:
        got = check(channel, payload)
        assert isinstance(got, Record), got
        records.append(got)
    store = SqliteStore(tmp_path / "s.db")
    store.write(records)
    [(ts, reading)] = [store.counter_at("count", NOW, "m1")["m1"]]
    assert ts == NOW and reading["total"] == MAX_INT


def test_floats_must_be_finite_and_numbers_must_be_numbers():
    rejected("telemetry", b'{"ts": 1, "seq": 1, "power_kw": NaN}', "not_json")
    rejected("energy", b'{"ts": 1, "seq": 1, "energy_kwh": 1e999}', "not_json")
    rejected("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, "x_c": True})
    rejected("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, "x_c": "1"})
    rejected("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, "x_c": None})
    rejected("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, "x_c": [1]})
    rejected("energy", {"ts": 1, "seq": 1, "energy_kwh": -0.5})
    rejected("count", {"ts": 1, "seq": 1, "total": 1.0, "good": 1, "scrap": 0})


@pytest.mark.parametrize("reason", ["a\nb", "tab\there", "nul\x00", "x" * 201])
def test_reasons_are_bounded_printable_text(reason):
    rejected("state", {"ts": 1, "seq": 1, "state": "down", "reason": reason})


# -- telemetry process values ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "spindle temp_c",
        "temp,c",
        "temp=c",
        'temp"c',
        "temp\\c",
        "temp_c\n",
        "nhiệt_độ_c",
        "Temp_C",
        "1temp",
        "_temp",
        "",
        "x" * 65,
    ],
)
def test_a_process_value_with_an_unsafe_name_is_rejected_by_name(key):
    detail = rejected("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, key: 2.0}, "bad_key")
    assert repr(key)[:40] in detail


def test_process_values_are_limited_in_number():
    values = {f"v{i}_c": float(i) for i in range(MAX_PROCESS_VALUES)}
    got = check("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, **values})
    assert isinstance(got, Record)
    values["one_more_c"] = 1.0
    rejected("telemetry", {"ts": 1, "seq": 1, "power_kw": 1.0, **values}, "too_many_values")


def test_telemetry_is_stored_as_its_model():
    got = check("telemetry", {"ts": 1, "seq": 2, "power_kw": 3, "spindle_temp_c": 40})
    assert isinstance(got, Record)
    assert got.payload == {"ts": 1, "seq": 2, "power_kw": 3.0, "spindle_temp_c": 40.0}
    assert all(type(got.payload[k]) is float for k in ("power_kw", "spindle_temp_c"))


# -- topics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "machine", ["cnc-01 ", "<script>", "máy-01", "a,b", "a=b", 'q"', "back\\slash", "x" * 65]
)
def test_a_topic_level_that_is_no_config_id_is_rejected(machine):
    topic = f"shopfloor/v1/acme/hcm/a/l1/{machine}/count"
    got = check("count", {"ts": 1, "seq": 1, "total": 1, "good": 1, "scrap": 0}, topic)
    assert isinstance(got, Reject) and got.reason == "bad_topic"
