"""Rewrite docs/reliability.md: every fault scenario of the reliability suite
(tests/reliability/harness.py, the same code tests/reliability/test_faults.py asserts on) run
against the services as a user runs them, and counted message by message.

    python docs/reliability.py            # the full profile (as CI's tests run it)
    python docs/reliability.py --quick    # shorter streams, for a look
    python docs/reliability.py --only collector_sigkill poison_flood
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability import harness  # noqa: E402
from tests.reliability.harness import SCENARIOS, Row  # noqa: E402
from tests.servers import influxd_path  # noqa: E402
from tests.support import BROKER_KINDS  # noqa: E402

OUT = ROOT / "docs" / "reliability.md"
# Why a scenario fails, as far as it is understood; printed only while it does.
CAUSES = {
    "poison_seq_jump_50k": "collector/seqtrack.py takes a seq more than MAX_JUMP ahead of the "
    "machine's highest when the message's ts leaves time for the skipped seqs at "
    "MAX_RATE_PER_S (100) messages a second; the forged message carries the ts of a later "
    "message of the stream, some 40 minutes of plant time ahead (inside --max-future, also the "
    "default 1 d), which allows over 200,000 seqs: a real machine sends about one a second. The "
    "50,000 numbers skipped are more holes than it remembers (1,000), so every genuine "
    "message after it, up to the forged seq, is a duplicate and dropped; stored, the forged "
    "seq is also the store's max_seq, which the next collector starts from",
}


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def run_all(names: list[str], prof: harness.Profile) -> list[tuple[str, Row | None, str]]:
    rows: list[tuple[str, Row | None, str]] = []
    for name in names:
        if name == "influxd_stopped" and not influxd_path():
            rows.append((name, None, "skipped: influxd is not installed"))
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"shopfloor-rel-{name}-"))
        t0 = time.monotonic()
        print(f"{name} ...", end=" ", flush=True)
        try:
            row = SCENARIOS[name](tmp, prof)
        except Exception as exc:
            print(f"error ({time.monotonic() - t0:.0f} s)", flush=True)
            traceback.print_exc()
            rows.append((name, None, f"did not complete: {exc.__class__.__name__}: {exc}"))
            continue
        verdict = "ok" if row.ok else "FAILED"
        print(f"{verdict} ({time.monotonic() - t0:.0f} s): {row.detail()[:300]}", flush=True)
        rows.append((name, row, ""))
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _recover(row: Row) -> str:
    return "never (within the wait)" if row.recover_s is None else f"{row.recover_s:.1f} s"


def _by_machine(keys: list[harness.Key]) -> str:
    c = Counter(f"{m} {ch}" for m, ch, _ in keys)
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))


def render(rows: list[tuple[str, Row | None, str]], quick: bool, took_s: float) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    brokers = ", ".join(
        _version(["mosquitto", "-h"]) if k == "mosquitto" else "amqtt (in-process)"
        for k in BROKER_KINDS[:1]
    )
    influx = _version(["influxd", "version"]) if influxd_path() else "not installed"
    prof = harness.QUICK if quick else harness.FULL
    lines = [
        "# Reliability: faults injected, every message counted",
        "",
        f"Made by `python docs/reliability.py{' --quick' if quick else ''}` on {now}, "
        f"in {took_s / 60:.0f} min, on a machine with {os.cpu_count()} cores (nproc) "
        f"({platform.system()} {platform.machine()}, Python {platform.python_version()}). "
        f"Broker: {brokers}. Stores: SQLite {sqlite3.sqlite_version}; InfluxDB 1.x "
        f"({influx}) for the influxd row.",
        "",
        "Each row runs the services as a user runs them: a real broker, `shopfloor collect` "
        "(`--config` the plant, `--dead-letter`, `--max-future 3650d`) into the store, and a "
        f"seeded `shopfloor sim` of config/plant.yaml from {harness.START} at "
        f"{harness.SPEED:g}x ({prof.stream} of plant time per stream; {prof.short} for the "
        "single-poison rows) whose `--jsonl` is the ground truth of what was sent. The fault is "
        "injected mid-stream; the harness waits until the store holds every message sent, stops "
        "the collector with SIGTERM and counts per (machine, channel, seq) of every sequenced "
        "message sent (state, count, telemetry, energy; status carries no seq). The same "
        "scenarios are asserted by `tests/reliability/test_faults.py` (marked slow).",
        "",
        "- **lost**: sent, not stored.",
        "- **duplicated**: stored more than once for one (machine, channel, seq).",
        "- **altered**: stored with columns that differ from what was sent (ts; states: state, "
        "reason; counts: total, good, scrap; energy: energy_kwh; samples: power_kw and the "
        "other values), or stored under a (machine, channel, seq) that was never sent.",
        "- **time to recover**: from the end of the fault (or of the stream, if later) until "
        "the store holds every message sent.",
        "",
        "| scenario | sent | stored | lost | duplicated | altered | time to recover |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row, why in rows:
        if row is None:
            lines.append(f"| {name}: {why} | | | | | | |")
            continue
        mark = "" if row.ok else " **(fails)**"
        lines.append(
            f"| {row.scenario.replace('|', '/')}{mark} | {row.sent:,} | {row.stored:,} | "
            f"{row.lost:,} | {row.duplicated:,} | {row.altered:,} | {_recover(row)} |"
        )
    lines += ["", "Notes per row:", ""]
    for name, row, why in rows:
        if row is None:
            lines.append(f"- `{name}`: {why}")
        elif row.notes:
            lines.append(f"- {row.scenario}: {row.notes}.")
    failed = [(n, r) for n, r, _ in rows if r is not None and not r.ok]
    if failed:
        lines += [
            "",
            "## What fails",
            "",
            "Each is a failing test too, marked `xfail(strict=True)` in "
            "tests/reliability/test_faults.py until it is fixed.",
            "",
        ]
        for name, r in failed:
            parts = []
            if r.lost:
                parts.append(
                    f"lost {r.lost:,} ({_by_machine(r.lost_keys)}; first seqs "
                    f"{[k[2] for k in r.lost_keys[:8]]})"
                )
            if r.duplicated:
                parts.append(f"duplicated {r.duplicated:,} ({_by_machine(r.duplicated_keys)})")
            if r.altered:
                parts.append(
                    f"altered {r.altered:,} ({_by_machine(r.altered_keys)}; e.g. "
                    f"{r.altered_keys[:3]})"
                )
            cause = CAUSES.get(name)
            lines.append(
                f"- {r.scenario}: " + "; ".join(parts) + (f". Why: {cause}." if cause else ".")
            )
    lines += [
        "",
        "The broker row is the short form of tests/integration/test_broker_crash.py (a day of "
        "the plant at full speed, a collector 15-19k messages behind, the broker's disk kept "
        "or lost). A killed simulator loses what it had made but not yet published (it is in "
        "no outbox): the resumed run makes those seqs anew, and the row's notes count them.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter streams")
    ap.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="these scenarios")
    ap.add_argument("--out", type=Path, default=OUT, help=f"default {OUT.relative_to(ROOT)}")
    args = ap.parse_args()
    names = args.only or list(SCENARIOS)
    t0 = time.monotonic()
    rows = run_all(names, harness.QUICK if args.quick else harness.FULL)
    args.out.write_text(render(rows, args.quick, time.monotonic() - t0))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
