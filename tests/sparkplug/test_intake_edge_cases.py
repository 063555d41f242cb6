"""Inputs the Sparkplug intake must turn into a dead-letter reason rather than an exception
(an exception becomes an 'internal' error in the collector): protobuf strings that are not
UTF-8, which Google's runtime parses and hands over as bytes."""

from __future__ import annotations

import pytest

from collector.sparkplug_in import SparkplugIntake
from collector.validate import Ignore, Reject
from shopfloor import clock
from shopfloor import sparkplug as spb

T = "spBv1.0/acme:hcm/{}/a:l1/m1"


def _payload(name: str, datatype: int, value: object, ts: int) -> bytes:
    p = spb.Payload(timestamp=ts, seq=1)
    spb.set_value(p.metrics.add(name="Seq", timestamp=ts), spb.UINT64, 5)
    spb.set_value(p.metrics.add(name=name, timestamp=ts), datatype, value)
    return p.SerializeToString()


@pytest.mark.parametrize("msg_type", ["DDATA", "DBIRTH"])
@pytest.mark.parametrize(
    ("name", "datatype", "value", "good", "bad"),
    [
        # The same length, so the protobuf framing stays valid: only the UTF-8 breaks.
        ("Power/kW", spb.DOUBLE, 1.0, b"Power/kW", b"Power/\xff\xfe"),
        ("Properties/kind", spb.STRING, "cnc", b"cnc", b"\xc3\x28c"),
    ],
)
def test_strings_that_are_not_utf8_are_dead_lettered(
    msg_type: str, name: str, datatype: int, value: object, good: bytes, bad: bytes
) -> None:
    now = clock.now_ms()
    raw = _payload(name, datatype, value, now)
    assert raw.count(good) == 1
    got = SparkplugIntake().validate(
        T.format(msg_type), raw.replace(good, bad), now, 86_400_000, 65536
    )
    assert isinstance(got, Reject)
    assert got.reason == "not_protobuf"
    assert "UTF-8" in got.detail


def test_a_primary_hosts_state_is_not_a_dead_letter() -> None:
    """Sparkplug 3.0's `spBv1.0/STATE/<host id>` (JSON, retained by Ignition's MQTT Engine
    with a primary host id) arrives on every `spBv1.0/#` subscription: nothing to store, and
    no dead letter on each (re)connect. A STATE under a group is not one."""
    now = clock.now_ms()
    intake = SparkplugIntake()
    state = b'{"online": true, "timestamp": 1}'
    got = intake.validate("spBv1.0/STATE/ignition-host", state, now, 86_400_000, 65536)
    assert isinstance(got, Ignore)
    got = intake.validate("spBv1.0/acme:hcm/STATE/a:l1", state, now, 86_400_000, 65536)
    assert isinstance(got, Reject) and got.reason == "bad_topic"


def test_a_metric_with_neither_name_nor_alias_asks_no_rebirth() -> None:
    now = clock.now_ms()
    asked: list[tuple[str, str]] = []
    p = spb.Payload(timestamp=now, seq=1)
    spb.set_value(p.metrics.add(name="Seq", timestamp=now), spb.UINT64, 5)
    spb.set_value(p.metrics.add(timestamp=now), spb.DOUBLE, 1.0)
    got = SparkplugIntake(lambda g, n: asked.append((g, n))).validate(
        T.format("DDATA"), p.SerializeToString(), now, 86_400_000, 65536
    )
    assert isinstance(got, Reject) and got.reason == "schema"
    assert "neither" in got.detail and asked == []


def _dbirth(ts: int, position: int) -> bytes:
    p = spb.Payload(timestamp=ts, seq=position + 1)
    props: list[tuple[str, int, object]] = [
        ("Properties/kind", spb.STRING, "cnc"),
        ("Properties/position", spb.INT64, position),
        ("Properties/line_length", spb.INT64, 2),
        ("Properties/connectivity", spb.STRING, "full"),
        ("Properties/ideal_cycle_s", spb.DOUBLE, 40.0),
        ("Properties/sample_interval_s", spb.DOUBLE, 60.0),
    ]
    states = ("running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "off")
    props += [(f"Properties/power_kw/{s}", spb.DOUBLE, 1.0) for s in states]
    for i, (name, dt, value) in enumerate(props):
        m = p.metrics.add(name=name, alias=(position + 1) * spb.SLOT + 100 + i, timestamp=ts)
        spb.set_value(m, dt, value)
    return p.SerializeToString()


def _node_msg(ts: int, bd_seq: int) -> bytes:
    p = spb.Payload(timestamp=ts)
    spb.set_value(p.metrics.add(name=spb.BD_SEQ, timestamp=ts), spb.UINT64, bd_seq)
    return p.SerializeToString()


def test_an_ndeath_takes_every_device_of_its_node_offline_unless_its_bdseq_is_stale() -> None:
    """The collector's only sign of a killed simulator is the NDEATH will: each device of the
    node born so far goes offline at the NDEATH's timestamp; an NDEATH whose bdSeq is not the
    NBIRTH's (a will of an earlier session) changes nothing (Sparkplug 3.0, host rules)."""
    now = clock.now_ms()
    intake = SparkplugIntake()
    node = "spBv1.0/acme:hcm/{}/a:l1"
    args = (now, 86_400_000, 65536)
    assert isinstance(intake.validate(node.format("NBIRTH"), _node_msg(now, 3), *args), Ignore)
    for position, machine in enumerate(("m1", "m2")):
        got = intake.validate(f"{node.format('DBIRTH')}/{machine}", _dbirth(now, position), *args)
        assert isinstance(got, list) and got[0].payload["online"] is True, got
    other = "spBv1.0/acme:hcm/NDEATH/a:l2"
    assert isinstance(intake.validate(other, _node_msg(now + 5, 3), *args), Ignore)
    stale = intake.validate(node.format("NDEATH"), _node_msg(now + 10, 2), *args)
    assert isinstance(stale, Ignore)
    got = intake.validate(node.format("NDEATH"), _node_msg(now + 20, 3), *args)
    assert isinstance(got, list)
    assert sorted((r.machine, r.channel, r.ts, r.payload["online"]) for r in got) == [
        ("m1", "status", now + 20, False),
        ("m2", "status", now + 20, False),
    ]
