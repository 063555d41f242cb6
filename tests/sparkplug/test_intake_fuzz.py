"""The Sparkplug intake never raises, whatever arrives: random bytes, and well-formed Sparkplug
payloads with random names, aliases, datatypes and values (hypothesis); each gives records,
a reason from collector.validate.REASONS, or nothing to store."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sparkplug_in import SparkplugIntake
from collector.validate import REASONS, Ignore, Reject
from shopfloor import sparkplug as spb
from shopfloor.store.base import Record

NOW = 1_795_366_800_000
TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDATA", "DDEATH", "NCMD", "DCMD", "STATE")
NAMES = [f.name for f in spb.FIXED] + [
    "bdSeq", "Properties/kind", "Properties/position", "Properties/power_kw/running",
    "Process/oil_temp_c", "Order/order_id", "Nope", "a/b/c", "Count/Total/x", "",
]  # fmt: skip

topics = st.builds(
    lambda g, t, n, d: "/".join(x for x in ("spBv1.0", g, t, n, d) if x is not None),
    st.sampled_from(["acme:hcm", "acme", "a:b:c", "", "ac me:h"]),
    st.sampled_from(TYPES),
    st.sampled_from(["a:l1", "a", "a:l 1", ":"]),
    st.one_of(st.none(), st.sampled_from(["m1", "m 1", "", "x" * 70])),
)
values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=30)
)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    p = spb.Payload()
    if draw(st.booleans()):
        p.timestamp = draw(st.integers(0, 2**64 - 1))
    if draw(st.booleans()):
        p.seq = draw(st.integers(0, 300))
    for _ in range(draw(st.integers(0, 6))):
        m = p.metrics.add()
        if draw(st.booleans()):
            m.name = draw(st.sampled_from(NAMES))
        if draw(st.booleans()):
            m.alias = draw(st.integers(0, 2**64 - 1))
        if draw(st.booleans()):
            m.timestamp = draw(st.integers(0, 2**64 - 1))
        dt = draw(st.integers(0, 40))
        v = draw(values)
        try:
            spb.set_value(m, dt, v, with_type=draw(st.booleans()))
        except (ValueError, TypeError, OverflowError):
            m.datatype = dt
    return p.SerializeToString()


def _ok(got: object) -> None:
    if isinstance(got, Reject):
        assert got.reason in REASONS and got.detail
    elif not isinstance(got, Ignore):
        assert isinstance(got, list) and all(isinstance(r, Record) for r in got)


@settings(max_examples=200, deadline=None)
@given(topics, st.binary(max_size=200))
def test_random_bytes_never_raise(topic: str, raw: bytes) -> None:
    _ok(SparkplugIntake().validate(topic, raw, NOW, 86_400_000, 65536))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(topics, payloads()), min_size=1, max_size=4))
def test_random_sparkplug_payloads_never_raise(messages: list[tuple[str, bytes]]) -> None:
    intake = SparkplugIntake(request_rebirth=lambda g, n: None)
    for topic, raw in messages:
        _ok(intake.validate(topic, raw, NOW, 86_400_000, 65536))
