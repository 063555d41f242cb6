"""The dead-letter file is bounded and never a reason to stop (collector/deadletter.py; issue
14, found 8: 39 MB for 5,000 poison messages, oversized payloads kept whole)."""

from __future__ import annotations

import errno
import hashlib
import logging

import orjson

from collector.deadletter import DeadLetter

TOPIC = "shopfloor/v1/acme/hcm/a/l1/m1/count"


def lines(path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_a_small_payload_is_kept_whole_with_its_length_and_hash(tmp_path):
    dl = DeadLetter(tmp_path / "d" / "dead.jsonl")
    dl.write(TOPIC, b"not json", "not_json", "unexpected character")
    dl.write(TOPIC, b"\xff\xfe", "not_json", "not UTF-8")
    dl.close()
    a, b = lines(tmp_path / "d" / "dead.jsonl")
    assert (a["topic"], a["reason"], a["detail"], a["payload"]) == (
        TOPIC,
        "not_json",
        "unexpected character",
        "not json",
    )
    assert a["length"] == 8 and a["sha256"] == hashlib.sha256(b"not json").hexdigest()
    assert "truncated" not in a
    assert b["payload_base64"] == "//4=" and "payload" not in b
    assert dl.written == 2 and dl.failed == 0


def test_a_large_payload_is_truncated_with_its_full_length_and_hash(tmp_path):
    raw = ("é" * 5000).encode()  # two bytes a character: the cut falls inside one
    dl = DeadLetter(tmp_path / "dead.jsonl", payload_bytes=1023)
    dl.write(TOPIC, raw, "oversized", "10000 bytes > 4096")
    dl.close()
    (line,) = lines(tmp_path / "dead.jsonl")
    assert line["truncated"] is True
    assert line["length"] == 10_000 and line["sha256"] == hashlib.sha256(raw).hexdigest()
    assert line["payload"] == "é" * 511
    assert (tmp_path / "dead.jsonl").stat().st_size < 1500


def test_the_file_rotates_at_its_cap_and_keeps_n_old_files(tmp_path):
    path = tmp_path / "dead-letter.jsonl"
    dl = DeadLetter(path, max_bytes=4096, keep=2)
    for i in range(300):
        dl.write(TOPIC, b"x" * 5000 + str(i).encode(), "oversized", f"message {i}")
    dl.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["dead-letter.jsonl", "dead-letter.jsonl.1", "dead-letter.jsonl.2"]
    assert all((tmp_path / f).stat().st_size <= 4096 for f in files)
    assert dl.rotations > 2 and dl.written == 300 and dl.failed == 0
    # Newest in the current file, older in .1, older still in .2; the oldest dropped.
    current = [x["detail"] for x in lines(path)]
    one = [x["detail"] for x in lines(tmp_path / "dead-letter.jsonl.1")]
    two = [x["detail"] for x in lines(tmp_path / "dead-letter.jsonl.2")]
    n = [int(d.split()[1]) for d in two + one + current]
    assert n == list(range(n[0], 300)) and n[0] > 0


def test_keep_zero_starts_the_file_over(tmp_path):
    path = tmp_path / "dead.jsonl"
    dl = DeadLetter(path, max_bytes=2048, keep=0)
    for i in range(50):
        dl.write(TOPIC, b"y" * 300, "schema", f"message {i}")
    dl.close()
    assert [p.name for p in tmp_path.iterdir()] == ["dead.jsonl"]
    assert path.stat().st_size <= 2048
    assert lines(path)[-1]["detail"] == "message 49"


def test_an_existing_file_counts_towards_the_cap(tmp_path):
    path = tmp_path / "dead.jsonl"
    path.write_bytes(b'{"old": 1}\n' * 400)  # 4400 bytes from an earlier run
    dl = DeadLetter(path, max_bytes=4096, keep=1)
    dl.write(TOPIC, b"z", "schema", "new")
    dl.close()
    assert lines(path)[0]["detail"] == "new"
    assert (tmp_path / "dead.jsonl.1").read_bytes().startswith(b'{"old": 1}')


class FullDisk:
    """A file that takes `room` bytes, then answers ENOSPC (as a full disk does)."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(data), self.room)
        self.room -= n
        return self.real.write(bytes(data[:n]))

    def truncate(self, size: int) -> int:
        return self.real.truncate(size)

    def seek(self, *args) -> int:
        return self.real.seek(*args)

    def close(self) -> None:
        self.real.close()


def test_a_full_disk_is_logged_and_counted_never_raised(tmp_path, caplog):
    path = tmp_path / "dead.jsonl"
    dl = DeadLetter(path)
    dl.write(TOPIC, b"first", "schema", "fits")
    dl._f = FullDisk(dl._f, room=20)  # the next line only partly fits
    with caplog.at_level(logging.ERROR, logger="shopfloor.collector.deadletter"):
        for i in range(5):
            dl.write(TOPIC, b"second", "schema", f"lost {i}")
    assert dl.failed == 5 and dl.written == 1
    assert len([r for r in caplog.records if "being lost" in r.message]) == 1  # once a spell
    dl._f.room = 10**6  # space again
    dl.write(TOPIC, b"third", "schema", "fits again")
    dl.close()
    # The half-written line was cut off: every line in the file is whole.
    assert [x["detail"] for x in lines(path)] == ["fits", "fits again"]


def test_writes_after_close_and_to_an_unwritable_place_are_counted_never_raised(tmp_path):
    dl = DeadLetter(tmp_path / "dead.jsonl")
    dl.close()
    dl.write(TOPIC, b"late", "schema", "after close")
    dl.close()
    assert dl.failed == 1 and dl.written == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = DeadLetter(blocker / "dead.jsonl")  # its folder cannot be made
    bad.write(TOPIC, b"x", "schema", "nowhere to go")
    assert bad.failed == 2  # the open at start, and the retry at the write
    bad.close()


def test_a_topic_or_detail_that_cannot_be_encoded_is_counted(tmp_path):
    dl = DeadLetter(tmp_path / "dead.jsonl")
    dl.write("bad\ud800topic", b"x", "schema", "a lone surrogate")
    dl.write(TOPIC, b"x", "schema", "x" * 100_000)
    dl.close()
    assert dl.failed == 1 and dl.written == 1
    assert len(lines(tmp_path / "dead.jsonl")[0]["detail"]) == 1000


def test_no_path_writes_nothing(tmp_path):
    dl = DeadLetter(None)
    dl.write(TOPIC, b"x", "schema", "dropped")
    dl.close()
    assert dl.failed == 0 and dl.written == 0 and not list(tmp_path.iterdir())
