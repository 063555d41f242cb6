"""Materials through the whole pipeline (issue 12): the simulator -> a real broker -> the
collector -> SQLite, against the simulator's ground truth.

Two days of a two-line plant with shifts and breaks: line A draws one raw material under
(s, Q) from an unreliable supplier (late and short deliveries), line B two materials, one under
a fixed schedule. The test checks that:

- every delivery the simulator made is stored on its line's first station's `material`
  channel, with the same quantities, flags and stock level (Store.deliveries);
- the stored starvation by cause (shopfloor.supply.by_cause over the stored state changes)
  matches the simulator's own books (`loss_reasons_s`) for every machine, within a
  millisecond per state change (ts are whole milliseconds);
- a line really ran out (the causes are not all upstream), and the starved reason
  `no material: <id>` reached the store.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from collector.deadletter import DeadLetter
from collector.metrics import Metrics
from collector.service import Collector
from shopfloor.config import load_config
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.report import losses_from_changes
from shopfloor.store.sqlite import SqliteStore
from shopfloor.supply import by_cause
from tests.support import cli, read_jsonl, running_broker, wait_for

START = "2026-11-23T00:00+07:00"  # a Monday
START_MS = 1_795_366_800_000
DAY_MS = 86_400_000

POWER = {"running": 5, "idle": 1}
PLANT = {
    "plant": {"enterprise": "acme", "site": "supply"},
    "seed": 5,
    "shifts": [
        {"name": "A", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "minutes": 30}]},
        {"name": "B", "start": "14:00", "end": "22:00"},
    ],
    "telemetry": {"sample_interval_s": 300, "energy_interval_s": 900},
    "suppliers": [
        {
            "id": "flaky-steel",
            "lead_time_h": {"mean": 1.5, "dist": "exponential"},
            "late_share": 0.2,
            "late_h": 2,
            "short_share": 0.2,
            "short_fraction": 0.5,
        },
        {"id": "steady", "lead_time_h": {"mean": 3, "dist": "lognormal", "cv": 0.3}},
    ],
    "materials": [
        {"id": "steel", "supplier": "flaky-steel", "initial": 60, "reorder_point": 30, "reorder_qty": 80},
        {"id": "resin", "supplier": "steady", "initial": 100, "schedule": {"every_h": 4, "qty": 150}},
        {"id": "screws", "supplier": "steady", "initial": 400, "reorder_point": 200, "reorder_qty": 600},
    ],
    "lines": [
        {
            "id": "A",
            "area": "machining",
            "materials": {"steel": 1},
            "stations": [
                {"id": "a1", "ideal_cycle_s": 60, "cycle_s": {"mean": 62, "cv": 0.1}, "buffer": 5,
                 "mtbf_min": 240, "mttr_min": 10, "power_kw": POWER},
                {"id": "a2", "ideal_cycle_s": 58, "cycle_s": {"mean": 63, "cv": 0.2}, "power_kw": POWER},
            ],
        },
        {
            "id": "B",
            "area": "moulding",
            "materials": {"resin": 1, "screws": 2},
            "stations": [
                {"id": "b1", "ideal_cycle_s": 90, "power_kw": POWER, "buffer": 3},
                {"id": "b2", "ideal_cycle_s": 80, "cycle_s": {"mean": 95, "cv": 0.3}, "power_kw": POWER},
            ],
        },
    ],
}  # fmt: skip
FIRST = {"A": "a1", "B": "b1"}


def stored_seqs(db: Path) -> dict[str, set[int]]:
    con = sqlite3.connect(db)
    out: dict[str, set[int]] = defaultdict(set)
    for table in ("states", "counts", "energy", "samples", "materials"):
        for machine, seq in con.execute(f"SELECT machine, seq FROM {table}"):
            out[machine].add(seq)
    con.close()
    return out


def sent_seqs(path: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for m in read_jsonl(path):
        if "seq" in m["payload"]:
            out[m["topic"].split("/")[6]].add(m["payload"]["seq"])
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("materials")
    cfg_path = tmp / "plant.yaml"
    cfg_path.write_text(yaml.safe_dump(PLANT, sort_keys=False))
    cfg = load_config(cfg_path)
    db = tmp / "s.db"
    with running_broker() as broker:
        col = Collector(
            parse_broker_url(broker.url),
            SqliteStore(db),
            client_id="materials-pipeline",
            dead_letter=DeadLetter(tmp / "dead.jsonl"),
            metrics=Metrics(),
            machines={(line.area, line.id, st.id) for line, st in cfg.stations()},
            max_future_ms=3650 * DAY_MS,  # a fixed Monday, whatever "now" is
        ).start()
        try:
            wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "sub")
            sim = subprocess.run(
                cli("sim", "--config", str(cfg_path), "--fast", "--start", START,
                    "--duration", "48h", "--broker", broker.url,
                    "--report", str(tmp / "truth.json"), "--jsonl", str(tmp / "run.jsonl")),
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert sim.returncode == 0, sim.stderr
            want = sent_seqs(tmp / "run.jsonl")
            wait_for(lambda: stored_seqs(db) == want, 120, "every seq stored")
        finally:
            col.stop()
    assert not (tmp / "dead.jsonl").exists() or not (tmp / "dead.jsonl").read_text()
    truth = json.loads((tmp / "truth.json").read_text())
    return truth, SqliteStore(db, read_only=True), tmp


def test_every_delivery_is_stored_as_the_simulator_made_it(run):
    truth, store, tmp = run
    end_ms = START_MS + 2 * DAY_MS + 1
    for line, first in FIRST.items():
        want = truth["machines"][first]["deliveries"]
        got = store.deliveries(START_MS, end_ms, first)
        keys = ("ts", "material", "supplier", "ordered", "delivered", "late", "short", "level")
        assert [{k: d[k] for k in keys} for d in got] == want, line
        assert all(d["machine"] == first for d in got)
    steel = [d for d in truth["machines"]["a1"]["deliveries"] if d["material"] == "steel"]
    # The unreliable supplier was both late and short in two days, and a short one brought half.
    assert any(d["late"] for d in steel) and any(d["short"] for d in steel)
    assert all(d["delivered"] == 40 for d in steel if d["short"])
    resin = [d for d in truth["machines"]["b1"]["deliveries"] if d["material"] == "resin"]
    assert len(resin) >= 48 // 4 - 1 and all(d["ordered"] == 150 for d in resin)
    # Other stations send no material messages.
    assert store.deliveries(START_MS, end_ms, "a2") == []
    # Every material message in the stream was a delivery of the ground truth.
    sent = [m for m in read_jsonl(tmp / "run.jsonl") if m["topic"].endswith("/material")]
    assert len(sent) == sum(len(truth["machines"][f]["deliveries"]) for f in FIRST.values())


def test_starvation_by_cause_matches_the_ground_truth(run):
    truth, store, _ = run
    end_ms = START_MS + 2 * DAY_MS
    plant_want: dict[tuple[str, str], float] = defaultdict(float)
    plant_got: dict[tuple[str, str], float] = defaultdict(float)
    for mid, entry in truth["machines"].items():
        books = {
            (state, reason): secs
            for state, reasons in entry["loss_reasons_s"].items()
            for reason, secs in reasons.items()
        }
        stored: dict[tuple[str, str], float] = {}
        changes = store.states(START_MS, end_ms, mid)[mid]
        losses_from_changes(changes, START_MS, end_ms, stored)
        want, got = by_cause(books), by_cause(stored)
        assert set(got) == set(want), mid
        for key, secs in want.items():
            assert got[key] == pytest.approx(secs, abs=0.001 * len(changes) + 0.01), (mid, key)
            plant_want[key] += secs
            plant_got[key] += got[key]
    print(
        "\nstarvation by cause, hours (truth / store): "
        + ", ".join(
            f"{c}{':' + d if d else ''} {plant_want[(c, d)] / 3600:.2f} / {plant_got[(c, d)] / 3600:.2f}"
            for c, d in plant_want
        )
    )
    # The lines did run out of material, and waited for upstream too.
    assert plant_want[("no_material", "steel")] > 600
    assert plant_want[("upstream", "")] > 0
    reasons = {r for rows in store.states(START_MS, end_ms).values() for _, _, r in rows}
    assert "no material: steel" in reasons
