"""Seq rules a hostile or broken sender cannot poison (collector/seqtrack.py; issue 14, found
5-7)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.seqtrack import MAX_JUMP, SeqTracker


def feed(t: SeqTracker, seqs, machine: str = "m1") -> list[str]:
    return [t.classify(machine, s) for s in seqs]


def test_a_machine_with_no_history_takes_its_first_seq_as_is():
    t = SeqTracker()
    assert t.classify("m1", 5_000_000) == "new"
    assert t.gaps("m1") == 0
    assert t.classify("m1", 5_000_001) == "new"
    known = SeqTracker({"m1": 40})
    assert known.classify("m2", 7) == "new" and known.classify("m1", 40) == "duplicate"


def test_new_duplicate_late_and_gaps():
    t = SeqTracker()
    got = feed(t, [1, 2, 2, 3, 6, 7, 1, 5])
    assert got == ["new", "new", "duplicate", "new", "new", "new", "duplicate", "late"]
    assert t.gaps("m1") == 1 and t.duplicates["m1"] == 2
    assert [t.observe("m1", s) for s in (4, 4, 8)] == [True, False, True]
    assert t.gaps("m1") == 0


def test_a_seq_far_ahead_does_not_silence_the_machine():
    """Found 6: one telemetry message with seq 10**9 made every genuine later one a duplicate."""
    t = SeqTracker()
    assert set(feed(t, range(1, 101))) == {"new"}
    assert t.classify("m1", 10**9) == "quarantine"
    assert not t.observe("m1", 10**9 + 1)
    assert feed(t, range(101, 201)) == ["new"] * 100
    assert t.highest["m1"] == 200 and t.gaps("m1") == 0 and t.quarantines("m1") == 2
    assert t.duplicates.get("m1", 0) == 0


def test_a_jump_within_the_limit_is_new_and_counted_as_a_gap():
    t = SeqTracker({"m1": 10})
    assert t.classify("m1", 10 + MAX_JUMP) == "new"
    assert t.gaps("m1") == MAX_JUMP - 1
    t = SeqTracker({"m1": 10})
    assert t.classify("m1", 11 + MAX_JUMP) == "quarantine"
    assert t.gaps("m1") == 0 and t.highest["m1"] == 10


def test_the_jump_limit_is_configurable():
    t = SeqTracker({"m1": 10}, max_jump=5)
    assert feed(t, [15, 21, 16]) == ["new", "quarantine", "new"]


T0 = 1_795_366_800_000  # epoch ms of the machine's highest seq in these tests


def test_a_publisher_that_really_jumped_is_believed_when_its_clock_allows_it():
    """A live run that kept counting while nothing reached the collector (a day of dropped
    queue): its ts is far enough past the highest's for the seqs skipped."""
    t = SeqTracker(max_rate_per_s=100)  # a rate given explicitly
    assert t.classify("m1", 100, T0) == "new"
    jump = 100 + 100_050  # 100,050 ahead (far beyond MAX_JUMP): 1,000.5 s at 100 a second
    assert t.classify("m1", jump, T0 + 999_000) == "quarantine"  # too soon
    assert t.classify("m1", jump, T0 + 1_001_000) == "new"
    assert t.highest["m1"] == jump
    assert t.gaps("m1") == jump - 100 - 1  # everything skipped is a gap


def test_a_burst_of_forged_seqs_stamped_now_never_confirms():
    """Found by the reliability suite: ten contiguous forged seqs 10**9+1..10**9+10 used to
    confirm a jump (any run of ten in a row did) and silenced the machine for good."""
    t = SeqTracker()
    for s in range(1, 101):
        t.classify("m1", s, T0 + s * 1000)
    burst = [t.classify("m1", 10**9 + i, T0 + 101_000 + i) for i in range(1, 1001)]
    assert set(burst) == {"quarantine"}
    assert [t.classify("m1", s, T0 + s * 1000) for s in range(101, 201)] == ["new"] * 100
    assert t.highest["m1"] == 200 and t.duplicates.get("m1", 0) == 0


def test_forged_seqs_interleaved_with_the_real_stream_never_take_over():
    t = SeqTracker({"m1": 100})
    for i in range(10):
        assert t.classify("m1", 10**9 + i, T0 + i) == "quarantine"
        assert t.classify("m1", 101 + i, T0 + i) == "new"
    assert t.highest["m1"] == 110


def test_without_timestamps_only_the_jump_limit_counts():
    t = SeqTracker({"m1": 1})  # a highest read from the store: its ts is not known
    assert set(feed(t, [10**9, 10**9 + 500, 10**8, 10**9 - 1])) == {"quarantine"}
    assert t.classify("m1", 10**9, T0 + 10**12) == "quarantine"  # no reference ts yet
    seeded = SeqTracker({"m1": 1}, known_ts={"m1": T0})  # the store's newest ts of m1
    assert seeded.classify("m1", 1 + 2 * MAX_JUMP, T0 + 1000) == "quarantine"
    assert seeded.classify("m1", 1 + 2 * MAX_JUMP, T0 + 3_600_000) == "new"  # an hour later
    assert t.classify("m1", 2, T0) == "new"
    assert t.classify("m1", 3 + MAX_JUMP, T0 + 1) == "quarantine"


def test_a_forged_seq_stamped_with_a_later_ts_of_the_stream_is_quarantined():
    """Found by the reliability suite: 50,000 ahead with the ts of a genuine message some 40
    minutes later passed at 100 messages a second; at the default 10 it does not, and a genuine
    jump that looks too fast is taken once the clock has moved on far enough."""
    t = SeqTracker()
    for s in range(1, 101):
        t.classify("m1", s, T0 + s * 1000)
    assert t.classify("m1", 100 + 50_000, T0 + 100_000 + 2_400_000) == "quarantine"
    assert [t.classify("m1", s, T0 + s * 1000) for s in range(101, 201)] == ["new"] * 100
    # A genuine jump of 50,000 (a live run that dropped its queue): refused at first ...
    assert t.classify("m1", 200 + 50_000, T0 + 200_000 + 2_400_000) == "quarantine"
    # ... taken once its clock is 5,000 s past the highest's (50,000 at 10 a second).
    assert t.classify("m1", 200 + 50_010, T0 + 200_000 + 5_001_000) == "new"


def test_one_forged_seq_a_little_ahead_silences_a_machine_for_at_most_the_jump_limit():
    """Found by the reliability suite: a forged seq 50,000 ahead (inside the old limit of
    100,000) was stored and every later genuine message dropped as a duplicate."""
    t = SeqTracker()
    for s in range(1, 101):
        t.classify("m1", s, T0 + s * 1000)
    assert t.classify("m1", 100 + 50_000, T0 + 100_500) == "quarantine"
    assert [t.classify("m1", s, T0 + s * 1000) for s in range(101, 201)] == ["new"] * 100


def test_a_forged_birth_followed_by_old_seqs_stores_nothing():
    """Found 7: an "online" status reset dedup, so replayed old seqs were stored again."""
    t = SeqTracker({"m1": 500})
    t.restart("m1")
    assert set(feed(t, [1, 2, 3, 499, 500])) == {"duplicate"}
    assert t.runs("m1") == 1 and t.highest["m1"] == 500
    assert t.classify("m1", 501) == "new"


def test_gaps_survive_a_birth():
    """Found 5: a birth reset the gap accounting; 2,866 lost messages ended with gaps=0."""
    t = SeqTracker()
    feed(t, [1, 2, 5, 6])
    assert t.gaps("m1") == 2
    t.restart("m1")
    t.restart("m1")
    assert t.gaps("m1") == 2 and t.runs("m1") == 2
    assert feed(t, [7, 3, 3]) == ["new", "late", "duplicate"]
    assert t.gaps("m1") == 1


def test_machines_are_independent():
    t = SeqTracker()
    feed(t, [1, 2, 3], "a")
    assert t.classify("a", 10**9) == "quarantine"
    assert feed(t, [1, 2], "b") == ["new", "new"]
    assert t.gaps("b") == 0 and t.quarantines("b") == 0


@settings(max_examples=200, deadline=None)
@given(
    order=st.permutations(list(range(1, 61))),
    repeats=st.lists(st.integers(1, 60), max_size=20),
    forged=st.lists(st.integers(60 + MAX_JUMP + 1, 2**53), max_size=5),
    births=st.lists(st.integers(0, 80), max_size=4),
)
def test_any_order_with_repeats_forgeries_and_births_stores_each_seq_once(
    order, repeats, forged, births
):
    """Whatever the order, every genuine seq is stored exactly once, no forged one is, and
    the gap count is what is really missing."""
    t = SeqTracker({"m1": 0})
    stream = list(order)
    for i, r in enumerate(repeats):
        stream.insert((i * 7) % (len(stream) + 1), r)
    for i, f in enumerate(forged):
        stream.insert((i * 13) % (len(stream) + 1), f)
    stored: list[int] = []
    for i, s in enumerate(stream):
        if i in births:
            t.restart("m1")
        if t.classify("m1", s, T0 + i) in ("new", "late"):
            stored.append(s)
    assert sorted(stored) == list(range(1, 61))
    assert t.gaps("m1") == 0 and t.quarantines("m1") == len(forged)


def test_implausible_judges_without_recording():
    t = SeqTracker({"m1": 100})
    assert t.implausible("m1", 101 + MAX_JUMP) and not t.implausible("m1", 100 + MAX_JUMP)
    assert not t.implausible("new-machine", 10**12)  # no history: nothing to judge by
    for _ in range(5):
        t.implausible("m1", 10**9)
    assert t.highest["m1"] == 100 and t.quarantines("m1") == 0
    assert t.classify("m1", 10**9) == "quarantine"
    assert t.implausible("m1", 10**9, T0) and t.highest["m1"] == 100
