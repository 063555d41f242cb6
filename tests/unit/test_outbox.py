"""The simulator's outbox (simulator/outbox.py): kept until a watermark covers it, sent again in
order, bounded."""

from __future__ import annotations

import pytest

from collector.watermark import Watermarks
from shopfloor.contract import WatermarkPayload, machine_prefix, parse_topic, watermark_topic
from shopfloor.store.base import Record
from simulator.outbox import Outbox

A = machine_prefix("acme", "hcm", "a", "l1", "m1")
B = machine_prefix("acme", "hcm", "a", "l1", "m2")


def fill(box: Outbox, key: str, seqs: range) -> None:
    for s in seqs:
        box.add(key, s, f"{key}/count", f"{key}:{s}".encode(), False)


def sent(box: Outbox) -> list[tuple[str, int]]:
    return [(e.key, e.seq) for e in box.pending()]


def test_a_watermark_trims_what_it_covers_and_only_that_machine():
    box = Outbox(100)
    fill(box, A, range(1, 11))
    fill(box, B, range(1, 6))
    assert box.covered(A, 7) == 7
    assert len(box) == 3 + 5
    assert sent(box) == [(A, 8), (A, 9), (A, 10)] + [(B, s) for s in range(1, 6)]
    assert box.trimmed == 7 and box.dropped == 0


def test_a_stale_watermark_changes_nothing():
    box = Outbox(100)
    fill(box, A, range(1, 11))
    box.covered(A, 8)
    assert box.covered(A, 3) == 0  # a retained copy from before, or a replayed one
    assert box.marks[A] == 8
    assert sent(box) == [(A, 9), (A, 10)]
    box.add(A, 5, f"{A}/count", b"old", False)  # already stored: not kept
    assert len(box) == 2


def test_after_a_reconnect_what_is_above_each_watermark_is_sent_again_in_publish_order():
    box = Outbox(100)
    order = []
    for s in range(1, 6):  # interleaved as the plant publishes them
        for key in (A, B):
            box.add(key, s, f"{key}/count", f"{key}:{s}".encode(), False)
            order.append((key, s))
    box.covered(A, 2)
    box.covered(B, 4)
    assert sent(box) == [(k, s) for k, s in order if s > (2 if k == A else 4)]
    assert [e.data for e in box.pending()][:2] == [f"{A}:3".encode(), f"{A}:4".encode()]
    # Covered while a resend is under way: the entry says so and the sink skips it.
    entries = box.pending()
    box.covered(A, 3)
    assert not entries[0].alive and entries[1].alive


def test_the_bound_drops_the_oldest_counted_whether_or_not_a_watermark_was_seen():
    box = Outbox(5)
    assert not box.watermark_seen
    dropped = 0
    for s in range(1, 9):
        dropped += box.add(A, s, f"{A}/count", b"x", False)
    assert dropped == 3 and box.dropped == 3
    assert len(box) == 5
    assert sent(box) == [(A, s) for s in range(4, 9)]
    # Across machines the oldest overall goes, whichever machine it belongs to.
    fill(box, B, range(1, 3))
    assert sent(box) == [(A, s) for s in range(6, 9)] + [(B, 1), (B, 2)]
    assert box.dropped == 5


def test_a_machine_whose_watermark_is_stuck_does_not_hold_the_others_back():
    box = Outbox(10_000)
    for s in range(1, 5001):
        box.add(A, s, "a", b"", False)
        box.add(B, s, "b", b"", False)
        if s % 100 == 0:
            box.covered(B, s)  # A's collector watermark never moves
    assert len(box) == 5000
    assert box.held() == {A: 5000}
    assert len(box._order) <= 2 * len(box) + 4096  # dead entries are compacted away


def test_the_bound_must_be_positive():
    with pytest.raises(ValueError):
        Outbox(0)


# -- the collector's side: the highest contiguous seq stored ----------------------------------


class FakeClient:
    def __init__(self):
        self.up = True
        self.sent: list[tuple[str, bytes, int, bool]] = []

    def is_connected(self) -> bool:
        return self.up

    def publish(self, topic, payload, qos, retain):
        self.sent.append((topic, payload, qos, retain))

        class Info:
            rc = 0

        return Info()


def rec(machine: str, seq: int | None, channel: str = "count") -> Record:
    return Record("acme", "hcm", "a", "l1", machine, channel, 1000 + (seq or 0), seq, {})


def test_the_collector_watermark_is_the_highest_contiguous_seq_stored():
    client = FakeClient()
    w = Watermarks(client, {"m1": 10}, run="t1", interval_s=0.5)
    w.stored(
        [rec("m1", 11), rec("m1", 12), rec("m1", 14), rec("m1", 15), rec("m1", None, "status")]
    )
    assert w.watermark("m1") == 12  # the hole at 13: send again from there
    assert w.publish(conn=1, now=100.0) == 1
    topic, payload, qos, retain = client.sent[-1]
    assert topic == watermark_topic("acme", "hcm", "a", "l1", "m1")
    assert parse_topic(topic).channel == "stored"
    assert WatermarkPayload.model_validate_json(payload) == WatermarkPayload(seq=12, run="t1")
    assert (qos, retain) == (1, True)
    w.stored([rec("m1", 13)])  # the hole filled
    assert w.watermark("m1") == 15
    assert w.publish(conn=1, now=100.2) == 0  # throttled
    assert w.publish(conn=1, now=100.6) == 1
    assert w.publish(conn=1, now=101.5) == 0  # did not move
    assert w.publish(conn=2, now=101.6) == 1  # reconnected: all of them again
    client.up = False
    w.stored([rec("m1", 16)])
    assert w.publish(conn=3, now=105.0) == 0


def test_a_machine_the_store_does_not_know_starts_at_its_first_seq_and_a_hole_is_given_up():
    w = Watermarks(FakeClient(), {}, run="t1", max_above=3)
    w.stored([rec("m2", 500), rec("m2", 501)])
    assert w.watermark("m2") == 501
    w.stored([rec("m2", s) for s in (503, 504, 505)])
    assert w.watermark("m2") == 501
    w.stored([rec("m2", 506)])  # a 4th seq above the hole: 502 is given up
    assert w.watermark("m2") == 506 and w.given_up == 1


def test_machines_the_store_knows_are_published_once_the_subscription_is_confirmed():
    client = FakeClient()
    subscribed = [False]
    topic = watermark_topic("acme", "hcm", "a", "l1", "m1")
    w = Watermarks(
        client, {"m1": 40, "m9": 7}, topics={"m1": topic}, ready=lambda: subscribed[0], run="t2"
    )
    assert w.publish(conn=0, now=1.0) == 0  # connected perhaps, but not yet subscribed
    subscribed[0] = True
    assert w.publish(conn=0, now=1.1) == 1  # m9's topic is unknown until one of its records
    assert client.sent[-1][0] == topic
    assert WatermarkPayload.model_validate_json(client.sent[-1][1]).seq == 40
    w.stored([rec("m9", 8)])
    assert w.watermark("m9") == 8
