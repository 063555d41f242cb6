"""Material deliveries (issue 12) in every store: SQLite and a real InfluxDB 1.x keep them as
the collector validated them and give them back the same way (Store.deliveries)."""

from __future__ import annotations

import contextlib

import orjson
import pytest

from collector.validate import validate
from shopfloor.store import open_store
from shopfloor.store.base import Record
from tests.servers import influxd, influxd_path

KINDS = ["sqlite", "influxdb1"] if influxd_path() else ["sqlite"]
TOPIC = "shopfloor/v1/acme/hcm/a/{line}/{machine}/material"


def delivery(machine: str, ts: int, seq: int, **over) -> dict:
    body = {
        "ts": ts,
        "seq": seq,
        "material": "steel",
        "supplier": "hoa-phat",
        "ordered": 200,
        "delivered": 200,
        "late": False,
        "short": False,
        "level": 230,
        "lead_time_s": 28_800.5,
    }
    body.update(over)
    return body


def validated(machine: str, body: dict, line: str = "l1") -> Record:
    got = validate(
        TOPIC.format(line=line, machine=machine), orjson.dumps(body), 10**13, 10**9, 65536
    )
    assert isinstance(got, Record), got
    return got


SENT = [
    ("m1", delivery("m1", 5_000, 7, late=True, level=12)),
    ("m1", delivery("m1", 9_000, 9, material="paint", ordered=50, delivered=25, short=True)),
    ("m1", delivery("m1", 9_000, 10, material="screws", level=1_000)),  # same millisecond
    ("m9", delivery("m9", 7_000, 3)),
]


@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 's.db'}"
        if request.param == "influxdb1":
            url = stack.enter_context(influxd(tmp_path)).url
        s = open_store(url)
        records = [validated(m, b, "l2" if m == "m9" else "l1") for m, b in SENT]
        s.write(records)
        s.write(records[:2])  # a repeat is stored once
        yield s
        s.close()


def test_deliveries_come_back_as_sent_in_time_order(store):
    want = sorted(({**body, "machine": m} for m, body in SENT), key=lambda d: (d["ts"], d["seq"]))
    assert store.deliveries(0, 10**12) == want
    # Types survive (InfluxDB keeps numbers as floats, flags as 0/1).
    got = store.deliveries(0, 10**12)[0]
    assert type(got["ordered"]) is int and got["late"] is True and got["short"] is False


def test_deliveries_of_a_window_and_a_machine(store):
    assert [d["seq"] for d in store.deliveries(5_000, 9_000)] == [7, 3]
    assert [d["seq"] for d in store.deliveries(0, 10**12, "m9")] == [3]
    assert store.deliveries(0, 10**12, "m2") == []


def test_max_seq_counts_material_messages(store):
    # A resumed plant goes on from here (simulator/resume.py): a material seq is a seq.
    assert store.max_seq() == {"m1": 10, "m9": 3}


def test_a_bad_delivery_is_refused_by_the_contract():
    for bad in (
        {"ordered": -1},
        {"late": "false"},
        {"material": "steel bar"},
        {"level": 1.5},
        {"extra": 1},
    ):
        body = delivery("m1", 1, 1, **bad)
        got = validate(TOPIC.format(line="l1", machine="m1"), orjson.dumps(body), 10, 10**9, 65536)
        assert not isinstance(got, Record), bad
        assert got.reason == "schema", bad
