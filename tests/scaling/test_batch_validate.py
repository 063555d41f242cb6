"""The batch form of the contract (shopfloor/batch.py) as the collector validates it: each
element as a single message would be, a bad one refused alone."""

from __future__ import annotations

import orjson

from collector.validate import Reject, validate
from shopfloor.batch import BATCH_MAX, max_elements
from shopfloor.store.base import Record

TOPIC = "shopfloor/v1/acme/hcm/machining/machining-1/cnc-01/telemetry"
NOW = 1_795_400_000_000
DAY = 24 * 3600 * 1000


def _validate(topic: str, payload: object) -> object:
    return validate(topic, orjson.dumps(payload), NOW, DAY, 64 * 1024)


def test_good_elements_stored_bad_one_refused_alone():
    good = [{"ts": NOW - 3000 + i * 1000, "seq": 10 + i, "power_kw": 1.5 + i} for i in range(3)]
    bad = {"ts": NOW, "seq": 13, "power_kw": -1.0}  # negative power: outside the contract
    got = _validate(TOPIC, {"v": 2, "batch": [good[0], bad, good[1], good[2]]})
    assert isinstance(got, list) and len(got) == 4
    assert [type(x) for x in got] == [Record, Reject, Record, Record]
    assert [r.seq for r in got if isinstance(r, Record)] == [10, 11, 12]
    assert [r.payload["power_kw"] for r in got if isinstance(r, Record)] == [1.5, 2.5, 3.5]
    reject = got[1]
    assert reject.reason == "schema" and reject.detail.startswith("batch[1]: power_kw")
    assert orjson.loads(reject.raw) == bad  # the dead letter is the element, not the batch


def test_an_element_that_is_no_object_and_a_future_one():
    got = _validate(
        TOPIC,
        {"v": 2, "batch": [[1, 2], {"ts": NOW + 2 * DAY, "seq": 1, "power_kw": 1.0}]},
    )
    assert [x.reason for x in got] == ["not_object", "future_ts"]


def test_energy_batches_too():
    topic = TOPIC.replace("/telemetry", "/energy")
    got = _validate(topic, {"v": 2, "batch": [{"ts": NOW, "seq": 5, "energy_kwh": 2.25}]})
    assert [(r.channel, r.seq, r.payload["energy_kwh"]) for r in got] == [("energy", 5, 2.25)]


def test_whole_batch_refused():
    state = TOPIC.replace("/telemetry", "/state")
    element = {"ts": NOW, "seq": 1, "state": "running"}
    cases = [
        (state, {"v": 2, "batch": [element]}, "takes single messages only"),
        (TOPIC, {"v": 3, "batch": [{"ts": NOW, "seq": 1, "power_kw": 1.0}]}, "envelope"),
        (TOPIC, {"batch": [{"ts": NOW, "seq": 1, "power_kw": 1.0}]}, "envelope"),
        (TOPIC, {"v": 2, "batch": []}, "non-empty list"),
        (TOPIC, {"v": 2, "batch": {"ts": NOW}}, "non-empty list"),
        (
            TOPIC,
            {
                "v": 2,
                "batch": [{"ts": NOW, "seq": i, "power_kw": 1.0} for i in range(BATCH_MAX + 1)],
            },
            f"at most {BATCH_MAX}",
        ),
    ]
    for topic, payload, needle in cases:
        got = _validate(topic, payload)
        assert isinstance(got, list) and len(got) == 1, payload
        assert got[0].reason == "schema" and needle in got[0].detail, got[0].detail


def test_escaped_key_refused_and_room_reserved():
    raw = b'{"v":2,"b\\u0061tch":[{"ts":1,"seq":1,"power_kw":1.0}]}'
    got = validate(TOPIC, raw, NOW, DAY, 64 * 1024)
    assert got[0].reason == "schema" and "without escapes" in got[0].detail
    # The collector's buffer reserves room for every element a batch can hold.
    many = orjson.dumps(
        {"v": 2, "batch": [{"ts": 1, "seq": i, "energy_kwh": 0} for i in range(500)]}
    )
    assert max_elements(many) >= 500
    assert max_elements(b'{"ts":1,"seq":1,"power_kw":1.0}') == 0
