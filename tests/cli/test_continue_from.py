"""`sim --continue-from STORE`: a restarted simulator goes on from the store, never over it."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict

import orjson

from collector.validate import validate
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import (
    PLANT,
    cli,
    complete_lines,
    instant_s,
    pinned_env,
    read_jsonl,
    run_cli,
    wait_for,
)

STORED_FROM = "2026-11-23T08:00:00+07:00"  # two hours of shift A are stored
NOW = "2026-11-23T11:00:00+07:00"


def stored_store(tmp_path) -> tuple[str, int, dict[str, int], dict[str, dict]]:
    """Two stored hours: (store URL, last ts, highest seq and last count per machine)."""
    t0 = int(instant_s(STORED_FROM) * 1000)
    sink = ListSink()
    run(load_config(PLANT), sink, t0, 7200)
    recs = [validate(t, orjson.dumps(p), t0 + 10**9, 10**12, 10**6) for t, p, _ in sink.messages]
    recs = [r for r in recs if isinstance(r, Record)]
    store = SqliteStore(tmp_path / "s.db")
    store.write(recs)
    store.close()
    seqs: dict[str, int] = defaultdict(int)
    counts: dict[str, dict] = {}
    for r in recs:
        if r.seq is not None:
            seqs[r.machine] = max(seqs[r.machine], r.seq)
        if r.channel == "count":
            counts[r.machine] = r.payload
    return f"sqlite:///{tmp_path / 's.db'}", max(r.ts for r in recs), dict(seqs), counts


def test_a_start_over_stored_history_goes_on_after_it(tmp_path):
    url, stored_end, seqs, counts = stored_store(tmp_path)
    out = tmp_path / "run.jsonl"
    proc = run_cli(
        "sim", "--config", str(PLANT), "--fast", "--start", "2026-11-23T03:00+07:00",
        "--duration", "1h", "--continue-from", url, "--jsonl", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sent: dict[str, list[dict]] = defaultdict(list)
    for m in read_jsonl(out):
        sent[m["topic"].split("/")[6]].append(m["payload"])
    for machine, payloads in sent.items():
        assert all(p["ts"] > stored_end for p in payloads), machine  # nothing over history
        got = [p["seq"] for p in payloads if "seq" in p]
        assert got == list(range(seqs[machine] + 1, seqs[machine] + 1 + len(got))), machine
        totals = [p["total"] for p in payloads if "total" in p]
        if machine in counts:
            assert min(totals) >= counts[machine]["total"], machine  # no counter steps back


def test_with_nothing_stored_it_starts_where_asked(tmp_path):
    store = SqliteStore(tmp_path / "empty.db")
    store.close()
    proc = run_cli(
        "sim", "--config", str(PLANT), "--fast", "--start", "2026-11-23T03:00+07:00",
        "--duration", "30m", "--continue-from", f"sqlite:///{tmp_path / 'empty.db'}", "--report", "-",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plant = json.loads(proc.stdout)["plant"]
    assert plant["start_ms"] == int(instant_s("2026-11-23T03:00:00+07:00") * 1000)


def test_backfill_on_a_pinned_clock_resumes_too(tmp_path):
    """--backfill 8h at 11:00 would start at 03:00, over the stored 08:00-10:00."""
    url, stored_end, _, _ = stored_store(tmp_path)
    out = tmp_path / "run.jsonl"
    proc = subprocess.Popen(
        cli("sim", "--config", str(PLANT), "--backfill", "8h", "--continue-from", url,
            "--jsonl", str(out), "--speed", "60"),
        stderr=subprocess.PIPE, text=True, env=pinned_env(NOW),
    )  # fmt: skip

    def caught_up() -> bool:
        lines = complete_lines(out)
        return len(lines) > 100 and json.loads(lines[-1])["payload"]["ts"] > stored_end + 3600_000

    try:
        wait_for(caught_up, 60, "the backfill after the stored hours")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    first = [json.loads(x)["payload"] for x in out.read_text().splitlines()]
    assert min(p["ts"] for p in first if "ts" in p) > stored_end


def test_errors_are_named(tmp_path):
    for args, needle in (
        (["--continue-from", "postgres://x"], "--continue-from"),
        (["--continue-from", f"sqlite:///{tmp_path}/s.db", "--resume", "{}"], "give one"),
    ):
        proc = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1h", *args)
        assert proc.returncode == 1, proc.stderr
        assert needle in proc.stderr and "Traceback" not in proc.stderr
