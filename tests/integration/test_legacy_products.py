"""A legacy first station (power meter only, no stroke meter) on a line whose products have
their own ideal cycle there (issue 12): the store assumes each product's ideal cycle over the
running time of its orders, so its parts and its ideal cycle are the ground truth's when the
machine does run at its ideal cycles.

Two products at 30 s and 60 s, each run at exactly its ideal cycle, no failures, no shifts;
simulated into SQLite by the bulk path (which stores what the collector stores:
tests/integration/test_bulk_issue12.py)."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from shopfloor.config import load_config
from shopfloor.store.report import report_from_store
from shopfloor.store.sqlite import SqliteStore
from tests.support import cli, pinned_env

START = "2026-11-23T00:00+07:00"
START_MS = 1_795_366_800_000
HOURS = 6

CONFIG = {
    "plant": {"enterprise": "acme", "site": "hcm"},
    "seed": 5,
    "lines": [
        {
            "id": "l1",
            "area": "a",
            "stations": [
                {"id": "press", "kind": "press", "ideal_cycle_s": 30, "connectivity": "legacy",
                 "buffer": 5, "power_kw": {"idle": 4.0, "running": 22.0}},
                {"id": "pack", "kind": "packaging", "ideal_cycle_s": 20,
                 "power_kw": {"idle": 1.0, "running": 3.0}},
            ],
        }
    ],
    "products": [
        {"id": "small", "line": "l1"},
        {"id": "big", "line": "l1", "stations": {"press": {"ideal_cycle_s": 60}}},
    ],
    "orders": {
        "plan": [
            {"id": "o1", "product": "small", "quantity": 200, "release_h": 0, "due_h": 6},
            {"id": "o2", "product": "big", "quantity": 100, "release_h": 0, "due_h": 6},
            {"id": "o3", "product": "small", "quantity": 150, "release_h": 2, "due_h": 6},
        ]
    },
}  # fmt: skip


def test_a_legacy_first_station_assumes_each_products_ideal_cycle(tmp_path):
    config = tmp_path / "plant.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    cfg = load_config(config)
    db = tmp_path / "s.db"
    got = subprocess.run(
        cli("sim", "--config", str(config), "--fast", "--start", START, "--duration",
            f"{HOURS}h", "--store", f"sqlite:///{db}", "--report", str(tmp_path / "t.json")),
        capture_output=True, text=True, timeout=300,
        env=pinned_env("2026-11-23T08:00:00+07:00", frozen=True),
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    truth = json.loads((tmp_path / "t.json").read_text())["machines"]["press"]
    store = SqliteStore(db, read_only=True)
    try:
        have = report_from_store(store, START_MS, START_MS + HOURS * 3_600_000 + 1, cfg)
    finally:
        store.close()
    press = have["machines"]["press"]
    # 350 small parts at 30 s and 100 big ones at 60 s: (350 x 30 + 100 x 60) / 450.
    assert truth["total_count"] == 450
    assert truth["ideal_cycle_s"] == pytest.approx(16500 / 450)
    assert press["inferred"] and press["total_count"] == pytest.approx(450, abs=2)
    assert press["ideal_cycle_s"] == pytest.approx(truth["ideal_cycle_s"], rel=0.005)
    assert press["performance"] == pytest.approx(truth["performance"], abs=0.01)
