"""`shopfloor demo` with work orders (issue 12): the history goes straight into the store (the
bulk backfill), then the live run goes on from it through the broker. An order in flight at
the handover finishes once in the live run, with its quantity and its one id; no order is
released twice; planned orders after the handover are released by the live run only."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from shopfloor.broker import free_port
from shopfloor.orders import fold_events
from shopfloor.store.rollup import END_OF_TIME_MS
from shopfloor.store.sqlite import SqliteStore
from tests.support import MONDAY_1100, cli, instant_s, pinned_env, wait_for

POWER = {"running": 5, "idle": 1}
CFG = {
    "plant": {"enterprise": "acme", "site": "demo-orders"},
    "seed": 2,
    "shifts": [{"name": "A", "start": "06:00", "end": "14:00"}],
    "telemetry": {"sample_interval_s": 60, "energy_interval_s": 300},
    "suppliers": [{"id": "mill", "lead_time_h": {"mean": 1, "dist": "constant"}}],
    "materials": [{"id": "steel", "supplier": "mill", "initial": 400, "reorder_point": 100, "reorder_qty": 300}],
    "lines": [
        {
            "id": "L1",
            "area": "press",
            "materials": {"steel": 1},
            "stations": [
                {"id": "d1", "ideal_cycle_s": 10, "buffer": 4, "power_kw": POWER},
                {"id": "d2", "ideal_cycle_s": 10, "cycle_s": {"mean": 10.5, "cv": 0.1}, "power_kw": POWER},
            ],
        }
    ],
    "products": [{"id": "A", "line": "L1"}, {"id": "B", "line": "L1"}],
    "orders": {
        "plan": [
            # About 19.5 minutes of work from 10:42: in flight when the history ends (10:59:30
            # and later on a slow start; the live run then follows the clock), finished after.
            {"id": "big-1", "product": "B", "quantity": 110, "release": "2026-11-23 10:42", "due": "2026-11-23 12:00"},
            {"id": "after-1", "product": "A", "quantity": 2, "release": "2026-11-23 11:01", "due": "2026-11-23 12:00"},
        ],
        "demand": {"seed": 3, "products": {"A": {"orders_per_day": 6, "quantity": 20, "due_h": 8}}},
    },
}  # fmt: skip


EARLIEST = int(instant_s(MONDAY_1100) * 1000) - 30_000  # the demo's BULK_LEAVE_MS before now


def handover_ms(db: Path) -> int:
    """Where the live run began: the machines' newest birth (the history's came before)."""
    store = SqliteStore(db, read_only=True)
    try:
        return min(m.birth_ts for m in store.machines())
    finally:
        store.close()


def events(db: Path) -> list[dict]:
    if not db.exists():
        return []
    store = SqliteStore(db, read_only=True)
    try:
        return store.order_events(END_OF_TIME_MS)
    finally:
        store.close()


@pytest.mark.slow
def test_demo_orders_go_on_across_the_handover(tmp_path):
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump(CFG))
    db = tmp_path / "data" / "shopfloor.db"
    out = tmp_path / "demo.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            cli("demo", "--config", str(tmp_path / "plant.yaml"), "--data-dir", str(tmp_path / "data"),
                "--port", str(free_port()), "--speed", "60"),
            cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, env=pinned_env(MONDAY_1100),
        )  # fmt: skip
    try:
        # Done: the order planned after the handover finished, or an order released twice.
        wait_for(
            lambda: any(
                (e["event"] == "released" and e["ts"] > EARLIEST and e["order_id"] == "big-1")
                or (e["order_id"] == "after-1" and e["event"] == "finished")
                for e in events(db)
            ),
            180,
            "the live run finishing the order planned after the handover",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, out.read_text(errors="replace")
    assert "history" in out.read_text(errors="replace")  # the bulk backfill ran
    got = events(db)
    handover = handover_ms(db)
    assert handover >= EARLIEST
    released = Counter(e["order_id"] for e in got if e["event"] == "released")
    finished = Counter(e["order_id"] for e in got if e["event"] == "finished")
    assert set(released.values()) == {1}, released
    assert set(finished.values()) == {1}, finished
    big = [e for e in got if e["order_id"] == "big-1"]
    # Released and started by the history, finished by the live run, under its one id.
    assert big[0]["event"] == "released" and big[0]["ts"] < handover
    assert any(e["event"] == "started" and e["ts"] < handover for e in big)
    fin = [e for e in big if e["event"] == "finished"]
    assert len(fin) == 1 and fin[0]["ts"] > handover, (fin, handover)
    (order,) = [o for o in fold_events(got) if o.id == "big-1"]
    assert order.good == 110 and order.scrap == 0  # no scrap: exactly its quantity
    after = [e for e in got if e["order_id"] == "after-1"]
    assert all(e["ts"] > handover for e in after)
