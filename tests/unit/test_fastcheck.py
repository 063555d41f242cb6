"""The validation shortcut (collector/fastcheck.py) against the contract's models: whatever the
shortcut accepts, the model accepts with the same dump (same keys in the same order, same
values of the same types); whatever it declines, the model decides, so rejections are the
model's. Payloads: the simulator's own stream, and random ones near and far from the contract.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.fastcheck import FAST, fast_payload, telemetry_values
from collector.validate import Reject, by_model, check
from shopfloor.contract import MAX_INT, parse_topic
from shopfloor.kpi import STATES
from shopfloor.store.sqlite import sample_rows

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "small.jsonl"
NOW = 1_795_366_800_000
CHANNELS = ["telemetry", "energy", "count", "state"]
FIELDS = {
    "telemetry": ["ts", "seq", "power_kw", "spindle_temp_c", "vibration_mm_s"],
    "energy": ["ts", "seq", "energy_kwh"],
    "count": ["ts", "seq", "total", "good", "scrap", "ideal_s"],
    "state": ["ts", "seq", "state", "reason"],
}


def same(fast: dict[str, object], model: dict[str, object] | Reject) -> None:
    assert isinstance(model, dict), f"the shortcut accepted what the model refused: {model}"
    assert list(fast.items()) == list(model.items())
    # 1 == 1.0 == True: the types must be the model's too (a float column stays a float).
    assert [type(v) for v in fast.values()] == [type(v) for v in model.values()]


def compare(channel: str, data: object) -> bool:
    """True when the shortcut took the payload."""
    fast = fast_payload(channel, data)
    model = by_model(channel, data)
    if fast is not None:
        same(fast, model)
    if channel == "telemetry":
        # The bulk path's form (keys, values), for a shape fast_payload has seen.
        kv = telemetry_values(data)
        if kv is not None:
            same(dict(zip(*kv, strict=True)), model)
    return fast is not None


def test_the_simulators_stream_takes_the_shortcut_with_the_models_records():
    taken = seen = 0
    for line in GOLDEN.read_text().splitlines():
        msg = orjson.loads(line)
        parts = parse_topic(msg["topic"])
        assert parts is not None
        if parts.channel not in FAST:
            continue
        seen += 1
        taken += compare(parts.channel, msg["payload"])
        rec = check(parts, msg["payload"], NOW + 10**10, 86_400_000)
        assert not isinstance(rec, Reject)
    assert seen > 2000
    assert taken == seen  # the simulator's payloads are all of the contract's exact shape


ints = st.sampled_from([0, 1, 7, MAX_INT, MAX_INT + 1, -1, 2**64, True, False]) | st.integers()
floats = st.sampled_from([0.0, -0.0, 1.5, -1.5, math.nan, math.inf, -math.inf, 1e308]) | st.floats(
    allow_nan=True, allow_infinity=True
)
texts = (
    st.sampled_from(
        ["", "tool change", "x" * 200, "x" * 201, "a\nb", "\x7f", "thay dao cụ", "\ud800"]
    )
    | st.sampled_from(STATES)
    | st.text(max_size=12)
)
# Text of the contract: at most 200 characters, none a control character.
reasons = st.sampled_from(["", "tool change", "x" * 200, "thay dao cụ"]) | st.text(
    st.characters(min_codepoint=0x20, exclude_characters="\x7f", exclude_categories=("Cs",)),
    max_size=200,
)
values = ints | floats | texts | st.none() | st.just([1.0]) | st.just({"a": 1.0})
keys = (
    st.sampled_from(
        [k for ks in FIELDS.values() for k in ks] + ["Bad", "x" * 65, "a" * 64, "_x", "ok_1"]
    )
    | st.text(max_size=8)
    | st.integers(0, 3)
)


def valid(channel: str, draw: st.DrawFn) -> dict[str, object]:
    ts = draw(st.integers(0, MAX_INT))
    seq = draw(st.integers(0, MAX_INT))
    nonneg = st.floats(min_value=0.0, allow_infinity=False)
    if channel == "telemetry":
        d: dict[str, object] = {"ts": ts, "seq": seq, "power_kw": draw(nonneg)}
        n = draw(st.integers(0, 34))
        for i in range(n):
            d[f"v{i}_c"] = draw(st.floats(allow_nan=False, allow_infinity=False))
        return d
    if channel == "energy":
        return {"ts": ts, "seq": seq, "energy_kwh": draw(nonneg)}
    if channel == "count":
        c = st.integers(0, MAX_INT)
        d = {"ts": ts, "seq": seq, "total": draw(c), "good": draw(c), "scrap": draw(c)}
        if draw(st.booleans()):
            d["ideal_s"] = draw(nonneg)
        return d
    d = {"ts": ts, "seq": seq, "state": draw(st.sampled_from(STATES))}
    if draw(st.booleans()):
        d["reason"] = draw(reasons)
    return d


@st.composite
def near_contract(draw: st.DrawFn) -> tuple[str, dict[object, object]]:
    """A valid payload, then a few changes: a value replaced, a key dropped or added, the
    keys reordered."""
    channel = draw(st.sampled_from(CHANNELS))
    d: dict[object, object] = dict(valid(channel, draw))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["set", "drop", "add", "shuffle"]))
        if op == "set" and d:
            d[draw(st.sampled_from(list(d)))] = draw(values)
        elif op == "drop" and d:
            d.pop(draw(st.sampled_from(list(d))))
        elif op == "add":
            d[draw(keys)] = draw(values)
        elif op == "shuffle":
            items = list(d.items())
            d = dict(draw(st.permutations(items)))
    return channel, d


@settings(max_examples=1500, deadline=None)
@given(near_contract())
@example(("telemetry", {"ts": 1, "seq": 2, "power_kw": 3}))  # an int where a float is due
@example(("telemetry", {"power_kw": 1.5, "b_c": 2.0, "ts": 1, "seq": 2, "a_c": 1.0}))
@example(("count", {"ts": 1, "seq": 2, "total": 3, "good": 3, "scrap": 0, "ideal_s": None}))
@example(("state", {"ts": 1, "seq": 2, "state": "down", "reason": "x" * 201}))
@example(("energy", {"ts": 1, "seq": 2, "energy_kwh": -0.0}))
def test_near_the_contract_the_shortcut_agrees_with_the_model(case):
    compare(*case)


@settings(max_examples=800, deadline=None)
@given(
    channel=st.sampled_from(CHANNELS),
    data=st.dictionaries(keys, values, max_size=8) | values,
)
def test_random_payloads_the_shortcut_agrees_with_the_model(channel, data):
    compare(channel, data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_valid_payloads_take_the_shortcut(data):
    """Not only a harmless shortcut: it is taken for the contract's plain shapes (a
    telemetry message with more than 32 process values is the model's to refuse)."""
    channel = data.draw(st.sampled_from(CHANNELS))
    d = valid(channel, data.draw)
    took = compare(channel, d)
    plain_reason = all(0x20 <= ord(c) < 0x7F for c in str(d.get("reason", "")))
    assert took == (len(d) <= 35 and plain_reason)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_batch_of_samples_gets_the_rows_one_at_a_time_would(data):
    """sqlite.sample_rows (the bulk path's writer: one orjson call and one %-format for a whole
    batch) gives each sample the row a record's own orjson dump gives (RowBuilder)."""
    payloads = [valid("telemetry", data.draw) for _ in range(data.draw(st.integers(1, 6)))]
    columns: tuple[list, list, list] = ([], [], [])
    for i, d in enumerate(payloads):
        compare("telemetry", d)
        kv = telemetry_values(d)
        if kv is None:  # more process values than the contract allows: the model's
            continue
        columns[0].append(f"m{i}")
        columns[1].append(kv[0])
        columns[2].append(kv[1])
    want = [
        (m, v[0], v[1], v[2], orjson.dumps(dict(zip(k[3:], v[3:], strict=True))).decode())
        for m, k, v in zip(*columns, strict=True)
    ]
    assert sample_rows(*columns) == want
