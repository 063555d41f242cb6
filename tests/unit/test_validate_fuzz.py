"""Property-based fuzzing of payload validation: never a crash; every message is either a
record that the store takes, or a rejection with a reason; good payloads always pass."""

from __future__ import annotations

import json
import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.validate import REASONS, Ignore, Reject, validate
from shopfloor.contract import MAX_INT, MAX_PROCESS_VALUES, PROCESS_VALUE_NAME
from shopfloor.kpi import STATES
from shopfloor.store.base import Record
from shopfloor.store.lineproto import encode

NOW = 1_795_366_800_000
BASE = "shopfloor/v1/acme/hcm/a/l1/m1"
CHANNELS = ["state", "count", "telemetry", "energy", "status", "cmd", "bogus"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def birth(ts: int, **changes: object) -> dict[str, object]:
    """A birth as simulator/plant.py makes it (the emitter adds ts)."""
    body: dict[str, object] = {
        "ts": ts,
        "online": True,
        "kind": "cnc",
        "position": 0,
        "line_length": 3,
        "connectivity": "full",
        "ideal_cycle_s": 30.0,
        "power_kw": dict.fromkeys(STATES, 2.5) | {"running": 11.0, "off": 0.0},
        "sample_interval_s": 10.0,
    }
    return body | changes


def check(topic: str, raw: bytes) -> None:
    got = validate(topic, raw, NOW, 86_400_000, 65_536)
    if isinstance(got, Reject):
        assert got.reason in REASONS and got.detail
    elif isinstance(got, Record):
        encode([got])  # whatever validates can be written as line protocol
    else:
        assert isinstance(got, Ignore)


@settings(max_examples=400, deadline=None)
@given(channel=st.sampled_from(CHANNELS), raw=st.binary(max_size=300))
def test_random_bytes_never_crash(channel, raw):
    check(f"{BASE}/{channel}", raw)


@settings(max_examples=600, deadline=None)
@given(
    channel=st.sampled_from(CHANNELS),
    payload=st.dictionaries(
        st.sampled_from(
            [
                "ts",
                "seq",
                "state",
                "reason",
                "total",
                "good",
                "scrap",
                "power_kw",
                "energy_kwh",
                "online",
                "x_c",
            ]
        )
        | st.text(max_size=8),
        json_values,
        max_size=7,
    ),
)
def test_random_json_objects_never_crash(channel, payload):
    try:
        raw = json.dumps(payload, allow_nan=True).encode()
    except (ValueError, OverflowError):
        return
    check(f"{BASE}/{channel}", raw)


@settings(max_examples=300, deadline=None)
@given(
    ts=st.integers(0, NOW),
    seq=st.integers(0, 2**40),
    state=st.sampled_from(
        ["running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "off"]
    ),
    reason=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=50),
    power=st.floats(0, 1e6, allow_nan=False),
    extra=st.floats(-1e6, 1e6, allow_nan=False),
    counts=st.tuples(st.integers(0, 2**31), st.integers(0, 2**31), st.integers(0, 2**31)),
)
def test_valid_payloads_always_pass(ts, seq, state, reason, power, extra, counts):
    good = [
        ("state", {"ts": ts, "seq": seq, "state": state, "reason": reason}),
        (
            "count",
            {"ts": ts, "seq": seq, "total": counts[0], "good": counts[1], "scrap": counts[2]},
        ),
        ("telemetry", {"ts": ts, "seq": seq, "power_kw": power, "spindle_temp_c": extra}),
        ("energy", {"ts": ts, "seq": seq, "energy_kwh": power}),
        ("status", birth(ts)),
        ("status", {"ts": ts, "online": False}),
    ]
    for channel, payload in good:
        got = validate(f"{BASE}/{channel}", json.dumps(payload).encode(), NOW, 86_400_000, 65_536)
        assert isinstance(got, Record), (channel, got)
        assert got.ts == ts and got.payload == payload
        encode([got])


@given(value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_numbers_are_rejected(value):
    raw = json.dumps({"ts": NOW, "seq": 1, "power_kw": value}).encode()  # NaN/Infinity literals
    got = validate(f"{BASE}/telemetry", raw, NOW, 86_400_000, 65_536)
    assert isinstance(got, Reject)


def within_bounds(value: object) -> bool:
    """What every store holds: integers with |n| <= MAX_INT, finite floats, bounded text."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 200
    if isinstance(value, dict):
        return all(isinstance(k, str) and within_bounds(v) for k, v in value.items())
    return False  # no lists, no None in a stored payload


@settings(max_examples=400, deadline=None)
@given(
    keys=st.dictionaries(
        st.text(max_size=70) | st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**64 - 1),
        max_size=40,
    )
)
def test_whatever_telemetry_is_accepted_has_safe_names_and_bounded_values(keys):
    payload = {"ts": NOW, "seq": 1, "power_kw": 1.0, **keys}
    got = validate(f"{BASE}/telemetry", orjson.dumps(payload), NOW, 86_400_000, 65_536)
    extra = set(payload) - {"ts", "seq", "power_kw"}
    if isinstance(got, Record):
        assert len(extra) <= MAX_PROCESS_VALUES
        assert all(PROCESS_VALUE_NAME.fullmatch(k) for k in extra)
        assert within_bounds(got.payload) and set(got.payload) == set(payload)
        assert all(type(got.payload[k]) is float for k in extra)
    else:
        assert isinstance(got, Reject) and got.reason in ("bad_key", "too_many_values", "schema")
        bad = [k for k in extra if not PROCESS_VALUE_NAME.fullmatch(k)]
        assert (got.reason == "bad_key") == bool(bad)


@settings(max_examples=400, deadline=None)
@given(
    drop=st.sets(st.sampled_from(sorted(birth(0)))),
    change=st.dictionaries(st.sampled_from([*birth(0), "extra"]), json_values, max_size=3),
)
def test_whatever_status_is_accepted_is_a_whole_birth_or_a_bare_death(drop, change):
    payload = {k: v for k, v in birth(NOW).items() if k not in drop} | change
    try:
        raw = json.dumps(payload, allow_nan=False).encode()
    except (ValueError, OverflowError):
        return
    got = validate(f"{BASE}/status", raw, NOW, 86_400_000, 65_536)
    if isinstance(got, Record):
        assert within_bounds(got.payload)
        if got.payload["online"] is True:
            assert set(got.payload) == set(birth(0))
            assert set(got.payload["power_kw"]) == set(STATES)
        else:
            assert got.payload["online"] is False and set(got.payload) <= {"ts", "online"}
        encode([got])
    else:
        assert isinstance(got, Reject) and got.reason in REASONS
