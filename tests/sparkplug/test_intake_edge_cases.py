"""Inputs the Sparkplug intake must turn into a dead-letter reason rather than an exception
(an exception becomes an 'internal' error in the collector): protobuf strings that are not
UTF-8, which Google's runtime parses and hands over as bytes."""

from __future__ import annotations

import pytest

from collector.sparkplug_in import SparkplugIntake
from collector.validate import Reject
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
