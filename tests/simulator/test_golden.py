"""Same config + seed => byte-identical JSONL, guarded by a committed golden file.

After an intended change to the event stream, regenerate it with
    SHOPFLOOR_UPDATE_GOLDEN=1 pytest tests/simulator/test_golden.py
and say why in the commit message.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ARGS = ["--fast", "--start", "2026-11-23T05:00+07:00", "--duration", "10h"]


def _sim(tmp_path: Path, name: str, *extra: str) -> bytes:
    out = tmp_path / name
    subprocess.run(
        [
            sys.executable,
            "-m",
            "shopfloor.cli.main",
            "sim",
            "--config",
            str(GOLDEN / "small.yaml"),
            *ARGS,
            "--jsonl",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def test_event_stream_matches_the_golden_file(tmp_path):
    got = _sim(tmp_path, "run.jsonl")
    golden = GOLDEN / "small.jsonl"
    if os.environ.get("SHOPFLOOR_UPDATE_GOLDEN"):
        golden.write_bytes(got)
    want = golden.read_bytes()
    assert got.count(b"\n") > 300
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(want).hexdigest(), (
        "event stream changed"
    )


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = _sim(tmp_path, "a.jsonl")
    b = _sim(tmp_path, "b.jsonl")
    c = _sim(tmp_path, "c.jsonl", "--seed", "12")
    assert a == b
    assert a != c
