"""Scaling out (issue 15; docs/scaling.md): the simulator sharded by line or area, and the
sharded topology (two simulator shards, two collectors in one shared-subscription group) run
here with local processes on one Mosquitto, reconciled against the ground truth."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from shopfloor.broker import find_mosquitto, free_port
from tests.support import PLANT, cli, collector_subscribed, read_jsonl, run_cli, wait_for

START = "2026-11-23T00:00+07:00"
# config/plant.yaml: lines machining-1, molding-1 and assembly-1, each in an area of its name.
SHARDS = (["--lines", "machining-1,assembly-1"], ["--area", "molding"])


def _by_machine(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for m in read_jsonl(path):
        out[m["topic"].split("/")[6]].append(m)
    return out


def _sim(tmp: Path, name: str, *extra: str, duration: str = "4h") -> Path:
    out = tmp / f"{name}.jsonl"
    got = run_cli(
        "sim", "--config", str(PLANT), "--fast", "--start", START, "--duration", duration,
        "--jsonl", str(out), "--report", str(tmp / f"{name}.report.json"), *extra,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    return out


def test_the_union_of_the_shards_is_the_whole_plant(tmp_path):
    """Per machine, the shards send exactly the whole plant's messages (topics, payloads,
    retain flags, in order), and each machine is in exactly one shard."""
    whole = _by_machine(_sim(tmp_path, "whole"))
    parts = [_by_machine(_sim(tmp_path, f"shard{i}", *a)) for i, a in enumerate(SHARDS)]
    assert not set(parts[0]) & set(parts[1])
    assert {"cnc-01", "pack-01", "press-01"} <= set(parts[0]) and "imm-01" in parts[1]
    union = {**parts[0], **parts[1]}
    assert set(union) == set(whole)
    for machine, messages in whole.items():
        assert union[machine] == messages, machine
    # The ground truth of each shard is the whole plant's for its machines.
    truth = json.loads((tmp_path / "whole.report.json").read_text())
    for i in range(2):
        part = json.loads((tmp_path / f"shard{i}.report.json").read_text())
        for machine, want in part["machines"].items():
            assert want == truth["machines"][machine], machine
        for line, want in part["lines"].items():
            assert want == truth["lines"][line], line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--lines", "machining-1,paint-9"], "--lines: no line 'paint-9' in the plant config"),
        (
            ["--area", "paint"],
            "--area: no area 'paint' in the plant config (areas: assembly, machining, molding)",
        ),
        (["--lines", "machining-1", "--area", "molding"], "not allowed with argument"),
    ],
)
def test_unknown_lines_and_areas_are_named(args, needle):
    got = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1h", *args)
    assert got.returncode != 0
    assert needle in got.stderr
    assert "Traceback" not in got.stderr


def _received(port: int) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("shopfloor_collector_received_total "):
                return float(line.split()[1])
    return 0.0


def _rows(db: Path) -> dict[str, dict[tuple[str, int], tuple]]:
    """The sent (not inferred) rows of a store by table, keyed by (machine, seq)."""
    con = sqlite3.connect(db)
    legacy = {
        m for (m,) in con.execute("SELECT machine FROM machines WHERE connectivity = 'legacy'")
    }
    out: dict[str, dict[tuple[str, int], tuple]] = {}
    for table, cols, where in (
        ("states", "state", "WHERE inferred = 0"),
        ("counts", "total, good, scrap", ""),
        ("energy", "energy_kwh", ""),
        ("samples", "power_kw", ""),
    ):
        got = {}
        for machine, seq, *rest in con.execute(f"SELECT machine, seq, {cols} FROM {table} {where}"):
            if table == "energy" and machine in legacy:
                continue  # a legacy machine's meter is the collector's estimate, not sent
            got[(machine, seq)] = tuple(rest)
        out[table] = got
    con.close()
    return out


@pytest.mark.skipif(find_mosquitto() is None, reason="needs Mosquitto (shared subscriptions)")
def test_two_shards_two_collectors_every_message_stored_once(tmp_path):
    """The compose profile `sharded` (docker-compose.yml) with local processes: two simulator
    shards (one batching its samples) publish to one Mosquitto; two `shopfloor collect` in the
    shared group `plant` store into two SQLite files. Every message of every machine is stored
    once in exactly one of them, and the counters and meters they hold end where the shards'
    ground truth does."""
    from shopfloor.broker import Broker

    broker = Broker(free_port(), kind="mosquitto").start()
    collectors: list[subprocess.Popen] = []
    ports: list[int] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            cmd = cli(
                "collect", "--broker", broker.url, "--store", f"sqlite:///{tmp_path / name}.db",
                "--shared-group", "plant", "--client-id", f"collector-{name}",
                "--metrics-port", str(port), "--dead-letter", str(tmp_path / f"{name}.dead.jsonl"),
            )  # fmt: skip
            collectors.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
            wait_for(lambda p=port: collector_subscribed(p), 30, f"collector {name} subscribed")
            ports.append(port)
        sims = []
        for i, args in enumerate(SHARDS):
            cmd = cli(
                "sim", "--config", str(PLANT), "--fast", "--start", START, "--duration", "2h",
                "--broker", broker.url, "--jsonl", str(tmp_path / f"shard{i}.jsonl"),
                "--report", str(tmp_path / f"shard{i}.report.json"), *args,
                *(["--batch-ms", "60000"] if i == 0 else []),
            )  # fmt: skip
            sims.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
        for sim in sims:
            _, err = sim.communicate(timeout=120)
            assert sim.returncode == 0, err
        sent: dict[tuple[str, int], dict] = {}
        for i in range(2):
            for m in read_jsonl(tmp_path / f"shard{i}.jsonl"):
                if "seq" in m["payload"]:
                    sent[(m["topic"].split("/")[6], m["payload"]["seq"])] = m

        def stored() -> list[dict[str, dict]]:
            return [_rows(tmp_path / f"{n}.db") for n in ("a", "b")]

        def keys(rows: dict[str, dict]) -> set[tuple[str, int]]:
            return {k for table in rows.values() for k in table}

        def complete() -> bool:
            try:
                a, b = stored()
            except sqlite3.Error:
                return False
            return keys(a) | keys(b) == set(sent)

        wait_for(complete, 90, "every message stored by the pair")
        # Shard 0 batched its samples (plant.yaml samples every 10 s, a batch holds up to 6):
        # the pair received fewer messages than the shards' messages.
        lines = sum(len(read_jsonl(tmp_path / f"shard{i}.jsonl")) for i in range(2))
        received = sum(_received(p) for p in ports)
        assert 0 < received < lines - 1000
    finally:
        for p in collectors:
            p.send_signal(signal.SIGTERM)
        for p in collectors:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.close()
    a, b = stored()
    # Both members took a share, and no (machine, seq) is in both stores.
    assert keys(a) and keys(b)
    assert not keys(a) & keys(b)
    union = {t: {**a[t], **b[t]} for t in a}
    # Every stored row is a message a shard sent, with its values.
    for (machine, seq), (total, good, scrap) in union["counts"].items():
        p = sent[(machine, seq)]["payload"]
        assert (p["total"], p["good"], p["scrap"]) == (total, good, scrap)
    for (machine, seq), (kw,) in union["samples"].items():
        assert sent[(machine, seq)]["payload"]["power_kw"] == pytest.approx(kw)
    # Reconciled against the shards' ground truth: each full machine's last count and meter
    # reading, wherever its collector stored them.
    for i in range(2):
        truth = json.loads((tmp_path / f"shard{i}.report.json").read_text())["machines"]
        for machine, want in truth.items():
            counts = sorted((s, v) for (m, s), v in union["counts"].items() if m == machine)
            if not counts:
                continue  # a legacy machine sends no counts
            assert counts[-1][1] == (
                want["total_count"],
                want["good_count"],
                want["scrap_count"],
            ), machine
            energy = sorted((s, v) for (m, s), v in union["energy"].items() if m == machine)
            assert energy[-1][1][0] == pytest.approx(want["energy_kwh"], abs=1e-3), machine
    for name in ("a", "b"):
        dead = tmp_path / f"{name}.dead.jsonl"
        assert not dead.exists() or dead.read_text() == ""


def test_batch_ms_needs_json_over_a_broker(tmp_path):
    got = run_cli("sim", "--config", str(PLANT), "--fast", "--duration", "1h", "--batch-ms", "500")
    assert (
        got.returncode != 0 and "--batch-ms batches what is published to a --broker" in got.stderr
    )
    got = run_cli(
        "demo", "--config", str(PLANT), "--data-dir", str(tmp_path), "--batch-ms", "500",
        "--encoding", "sparkplug",
    )  # fmt: skip
    assert (
        got.returncode != 0
        and "--batch-ms: a number of ms >= 0, with --encoding json" in got.stderr
    )
    assert "Traceback" not in got.stderr
