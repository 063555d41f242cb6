"""A restarted plant does not forget its orders, materials and performance books (issue 12;
docs/architecture.md, Orders and products: a restarted plant).

Two consecutive days of a two-line plant with planned and generated orders and raw material:
the first run in process (its ground truth and its plant's true inventories at the end), stored
in a real SQLite store; the second a `shopfloor sim --continue-from` of that store, stored in
it too. Checked against the two runs' ground truth: the store gives back what the first run
left (SQLite, and a real InfluxDB 1.6.7 read by both InfluxDB stores), ids are unique across
the runs, no finished order comes again, an order in flight at the restart finishes once in
the second run with its quantity, the store's orders and performance over both days are the
truth of both runs together, and the inventory goes on from where the first run left it.
And the demo's handover: its bulk backfill into the store, then the run it goes on with.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import yaml

from collector.validate import validate
from shopfloor import clock, tolerance
from shopfloor.cli.demo import continue_args, plant_stored_until_ms
from shopfloor.config import load_config
from shopfloor.orders import OrderFacts, fold_events
from shopfloor.store import open_store
from shopfloor.store.base import Record
from shopfloor.store.influx2 import Influx2Store
from shopfloor.store.report import report_from_store
from shopfloor.store.rollup import END_OF_TIME_MS
from shopfloor.store.sqlite import SqliteStore
from simulator.resume import from_store
from simulator.run import run
from simulator.sinks import ListSink
from tests.servers import influxd, influxd_path
from tests.support import instant_s, read_jsonl, run_cli

DAY_S = 86_400
START = "2026-11-23T06:00:00+07:00"  # a Monday, as shift A starts
START_MS = int(instant_s(START) * 1000)


@pytest.fixture(autouse=True, scope="module")
def _clock_after_the_runs():
    """Every run here ends by Wednesday 06:00: the clock is pinned after it, for the CLI's
    runs and the stores alike, since a record over a day ahead of the clock is refused as
    from the future (at a real Sunday night the bulk backfill lost the last hours)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(clock.ENV, clock.ticking_from(instant_s("2026-11-25T12:00:00+07:00")))
        yield


POWER = {"running": 5, "idle": 1}
CFG: dict[str, Any] = {
    "plant": {"enterprise": "acme", "site": "restart"},
    "seed": 11,
    "shifts": [
        {"name": "A", "start": "06:00", "end": "14:00"},
        {"name": "B", "start": "14:00", "end": "22:00"},
    ],
    "telemetry": {"sample_interval_s": 600, "energy_interval_s": 900},
    "suppliers": [
        {
            "id": "mill",
            "lead_time_h": {"mean": 3, "dist": "exponential"},
            "late_share": 0.1,
            "late_h": 2,
            "short_share": 0.1,
            "short_fraction": 0.5,
        }
    ],
    "materials": [
        {"id": "steel", "supplier": "mill", "initial": 300, "reorder_point": 150, "reorder_qty": 400},
        {"id": "resin", "supplier": "mill", "initial": 500, "reorder_point": 200, "reorder_qty": 600},
    ],
    "lines": [
        {
            "id": "L1",
            "area": "press",
            "materials": {"steel": 1},  # what every part of the line uses
            "stations": [
                {"id": "p1", "ideal_cycle_s": 30, "cycle_s": {"mean": 32, "cv": 0.1},
                 "buffer": 10, "mtbf_min": 300, "mttr_min": 10, "power_kw": POWER},
                {"id": "p2", "ideal_cycle_s": 30, "cycle_s": {"mean": 31, "cv": 0.2},
                 "power_kw": POWER},
            ],
        },
        {
            "id": "L2",
            "area": "mould",  # its products bring their own materials
            "stations": [
                {"id": "m1", "ideal_cycle_s": 40, "buffer": 5, "power_kw": POWER},
                {"id": "m2", "ideal_cycle_s": 40, "cycle_s": {"mean": 42, "cv": 0.2},
                 "power_kw": POWER},
            ],
        },
    ],
    "products": [
        {"id": "A", "line": "L1"},
        {"id": "B", "line": "L1", "stations": {"p2": {"ideal_cycle_s": 20, "scrap_rate": 0.03}}},
        {"id": "C", "line": "L2", "materials": {"resin": 2}},
        {"id": "D", "line": "L2", "materials": {"resin": 1},
         "stations": {"m1": {"ideal_cycle_s": 30}}},
    ],
    "orders": {
        "plan": [
            {"id": "plan-1", "product": "A", "quantity": 100,
             "release": "2026-11-23 06:00", "due": "2026-11-23 12:00"},
            {"id": "plan-2", "product": "B", "quantity": 200,
             "release": "2026-11-23 15:00", "due": "2026-11-24 10:00"},
            {"id": "plan-3", "product": "C", "quantity": 50,
             "release": "2026-11-24 08:00", "due": "2026-11-24 18:00"},
            {"id": "plan-4", "product": "A", "quantity": 80,
             "release": "2026-11-24 09:00", "due": "2026-11-24 20:00"},
        ],
        "demand": {
            "seed": 1,
            "products": {
                "A": {"orders_per_day": 6, "quantity": 150, "due_h": 24},
                "B": {"orders_per_day": 3, "quantity": 120, "due_h": 36},
                "C": {"orders_per_day": 4, "quantity": 200, "due_h": 24},
                "D": {"orders_per_day": 4, "quantity": 150, "due_h": 24},
            },
        },
    },
}  # fmt: skip
FIRST = {"L1": "p1", "L2": "m1"}
PLAN_IDS = {o["id"] for o in CFG["orders"]["plan"]}
NO_SCRAP = {"A", "C", "D"}  # products with no scrap anywhere: an order makes exactly its quantity


class Capture(ListSink):
    """A list sink that keeps the plant (run() hands it over): its true inventories at the end."""

    def attach(self, plant: Any) -> None:
        self.plant = plant


def records(messages: list[tuple[str, Any]]) -> list[Record]:
    """Messages as the collector stores them (validated; every one must pass)."""
    out = []
    for topic, payload in messages:
        got = validate(topic, orjson.dumps(payload), 10**13, 10**12, 10**6)
        assert isinstance(got, Record), (topic, payload, got)
        out.append(got)
    return out


def jsonl_records(path: Path) -> list[Record]:
    return records([(m["topic"], m["payload"]) for m in read_jsonl(path)])


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in report["orders"]["orders"]}


def number(oid: str) -> int:
    return int(oid.rpartition("-")[2])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("restart")
    (tmp / "plant.yaml").write_text(yaml.safe_dump(CFG))
    cfg = load_config(tmp / "plant.yaml")
    sink = Capture()
    first = run(cfg, sink, START_MS, DAY_S)
    levels = {
        line: {mid: inv.level for mid, inv in supply.inventories.items()}
        for line, supply in sink.plant.supplies.items()
    }
    first_records = records([(t, p) for t, p, _ in sink.messages])
    url = f"sqlite:///{tmp / 's.db'}"
    store = SqliteStore(tmp / "s.db")
    store.write(first_records)
    machines = {st.id for _, st in cfg.stations()}
    resumed = from_store(store, machines, cfg)
    proc = run_cli(
        "sim", "--config", str(tmp / "plant.yaml"), "--fast", "--start", START,
        "--duration", "24h", "--continue-from", url,
        "--jsonl", str(tmp / "second.jsonl"), "--report", str(tmp / "second.json"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    second = json.loads((tmp / "second.json").read_text())
    store.write(jsonl_records(tmp / "second.jsonl"))
    yield SimpleNamespace(
        tmp=tmp,
        cfg=cfg,
        truth1=first.report,
        truth2=second,
        levels=levels,
        first_records=first_records,
        resumed=resumed,
        store=store,
        second_jsonl=tmp / "second.jsonl",
    )
    store.close()


@pytest.fixture(scope="module")
def influx_url(runs, tmp_path_factory):
    """A real InfluxDB 1.6.7 holding the first run."""
    if influxd_path() is None:
        pytest.skip("needs influxd (InfluxDB 1.x; .ci/run installs it)")
    with influxd(tmp_path_factory.mktemp("influx")) as server:
        store = open_store(server.url)
        store.write(runs.first_records)
        store.close()
        yield server.url


@contextlib.contextmanager
def first_run_store(kind: str, runs, request):
    if kind == "sqlite":
        store = SqliteStore(runs.tmp / "first.db")
        if not store.machines():
            store.write(runs.first_records)
        yield store
    else:
        url = request.getfixturevalue("influx_url")
        if kind == "influxdb1":
            store = open_store(url, read_only=True)
        else:  # the 2.x store reads with InfluxQL over /query, which InfluxDB 1.x serves too
            host = url.split("//")[1].split("/")[0]
            store = Influx2Store(f"influxdb://{host}/shopfloor?org=acme", read_only=True)
        yield store
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "influxdb1", "influxdb2"])
def test_the_store_gives_back_what_the_first_run_left(kind, runs, request):
    truth = runs.truth1
    orders = by_id(truth)
    with first_run_store(kind, runs, request) as store:
        got = from_store(store, {st.id for _, st in runs.cfg.stations()}, runs.cfg)
    for line, first in FIRST.items():
        book = got[first].orders
        assert book is not None, first
        mine = {i: o for i, o in orders.items() if o["line"] == line}
        # Open: released and not finished, each as it stood at the end (good and scrap so far).
        want_open = {i: o for i, o in mine.items() if o["finish_ms"] is None}
        assert {o.id for o in book.open} == set(want_open), line
        for o in book.open:
            w = want_open[o.id]
            assert (o.release_ts, o.due_ts, o.start_ts) == (
                w["release_ms"],
                w["due_ms"],
                w["start_ms"],
            )
            assert (o.good, o.scrap, o.quantity) == (w["good"], w["scrap"], w["quantity"]), o.id
        assert set(book.finished) == {
            i for i, o in mine.items() if o["finish_ms"] and i in PLAN_IDS
        }
        generated = {}
        for i, o in mine.items():
            if i not in PLAN_IDS:
                generated[o["product"]] = max(generated.get(o["product"], 0), number(i))
        assert book.generated == generated, line
    # An order was in flight, some of its parts made, for the second run to finish.
    assert any(o.good > 0 for o in got["m1"].orders.open if o.start_ts is not None)
    for mid, m in truth["machines"].items():
        # The sum of each part's own ideal cycle (the count messages round it to 1 ms).
        assert got[mid].ideal_s == pytest.approx(m["ideal_cycle_s"] * m["total_count"], abs=1e-3)
        assert got[mid].total == m["total_count"]
    # Units on hand: the line's own bill (one steel a part) is exact but for the one part the
    # first station had in work as the run ended; the products' bills (2 or 1 resin) are
    # shared out by the orders' parts since the last delivery, an estimate.
    assert 0 <= got["p1"].inventory["steel"] - runs.levels["L1"]["steel"] <= 1
    assert got["m1"].inventory["resin"] == pytest.approx(runs.levels["L2"]["resin"], abs=10)
    assert got["p2"].inventory is None and got["p2"].orders is None


def test_ids_are_unique_across_runs_and_no_finished_order_comes_again(runs):
    one, two = by_id(runs.truth1), by_id(runs.truth2)
    start2 = runs.truth2["plant"]["start_ms"]
    assert start2 > max(r.ts for r in runs.first_records)
    finished1 = {i for i, o in one.items() if o["finish_ms"] is not None}
    assert not finished1 & set(two), "a finished order came again"
    # What the second run took over is exactly what the first left open.
    assert {i for i in two if i in one} == set(one) - finished1
    new = {i: o for i, o in two.items() if i not in one}
    assert new and all(o["release_ms"] >= start2 for o in new.values())
    # Planned orders the first run released were not released again: only the later ones.
    assert {i for i in new if i in PLAN_IDS} == {"plan-3", "plan-4"}
    # Generated ids go on from the first run's, one number after another.
    for product in "ABCD":
        before = sorted(
            number(i) for i, o in one.items() if o["product"] == product and i not in PLAN_IDS
        )
        after = sorted(
            number(i) for i, o in new.items() if o["product"] == product and i not in PLAN_IDS
        )
        assert before + after == list(range(1, len(before) + len(after) + 1)), product
    # The store: each order released once and finished at most once, under one id.
    events = runs.store.order_events(END_OF_TIME_MS)
    released = Counter(e["order_id"] for e in events if e["event"] == "released")
    finished = Counter(e["order_id"] for e in events if e["event"] == "finished")
    assert set(released) == set(one) | set(two) and set(released.values()) == {1}
    assert set(finished.values()) == {1}


def test_an_order_in_flight_finishes_once_in_the_next_run(runs):
    one, two = by_id(runs.truth1), by_id(runs.truth2)
    in_flight = [o for o in one.values() if o["start_ms"] is not None and o["finish_ms"] is None]
    assert any(o["good"] > 0 for o in in_flight)  # some parts made before the restart
    for o in in_flight:
        later = two[o["id"]]
        assert later["finish_ms"] is not None, o["id"]
        # The same order: its release, due and start from the first run, its parts of both.
        assert (later["release_ms"], later["due_ms"], later["start_ms"]) == (
            o["release_ms"], o["due_ms"], o["start_ms"],
        )  # fmt: skip
        assert later["good"] >= o["good"] and later["scrap"] >= o["scrap"]
        if o["product"] in NO_SCRAP:
            assert later["good"] == o["quantity"], o["id"]  # in full, not a part more
        # Orders in flight are worked first: it is the first of its line to finish.
        line_finishes = [
            x["finish_ms"] for x in two.values() if x["line"] == o["line"] and x["finish_ms"]
        ]
        assert later["finish_ms"] == min(line_finishes), o["id"]
    # The store's state of every order is the truth of the last run that had it.
    folded = {o.id: o for o in fold_events(runs.store.order_events(END_OF_TIME_MS))}
    for i, want in {**one, **two}.items():
        got = folded[i]
        assert (got.release_ms, got.due_ms, got.start_ms, got.finish_ms, got.good, got.scrap) == (
            want["release_ms"], want["due_ms"], want["start_ms"], want["finish_ms"],
            want["good"], want["scrap"],
        ), i  # fmt: skip


def test_order_kpis_and_performance_over_both_runs_are_the_truth_of_both(runs):
    t1 = runs.truth2["plant"]["end_ms"]
    got = report_from_store(runs.store, START_MS, t1 + 1, runs.cfg)
    one, two = runs.truth1["machines"], runs.truth2["machines"]
    for mid in one:
        ideal = one[mid]["ideal_cycle_s"] * one[mid]["total_count"]
        ideal += two[mid]["ideal_cycle_s"] * two[mid]["total_count"]
        performance = ideal / (one[mid]["running_s"] + two[mid]["running_s"])
        assert got["machines"][mid]["performance"] == pytest.approx(
            performance, abs=tolerance.RATIO
        ), mid
        assert (
            got["machines"][mid]["total_count"] == one[mid]["total_count"] + two[mid]["total_count"]
        )
    # The orders over both days: the truth's facts, each order as the last run left it.
    facts = {**by_id(runs.truth1), **by_id(runs.truth2)}
    assert len(got["orders"]["orders"]) == len(facts)
    want_done = sum(1 for o in facts.values() if o["finish_ms"] is not None)
    assert got["orders"]["plant"]["orders_finished"] == want_done
    leads = [o["lead_time_s"] for o in facts.values() if o["lead_time_s"] is not None]
    assert got["orders"]["plant"]["lead_time_mean_s"] == pytest.approx(sum(leads) / len(leads))
    # The cumulative ideal seconds never step back across the restart.
    for mid in one:
        ideal = [
            r.payload["ideal_s"]
            for r in runs.first_records + jsonl_records(runs.second_jsonl)
            if r.machine == mid and r.channel == "count"
        ]
        assert all(b >= a for a, b in pairwise(ideal)), mid


def test_the_inventory_goes_on_from_where_the_first_run_left_it(runs):
    """The second run's first delivery of each material finds what the first run left less
    what the parts since its start used: level - delivered = resumed - bill x parts."""
    msgs = read_jsonl(runs.second_jsonl)
    for line, mid, bill in (("L1", "steel", {"A": 1, "B": 1}), ("L2", "resin", {"C": 2, "D": 1})):
        first = FIRST[line]
        resumed = runs.resumed[first].inventory[mid]
        assert resumed != CFG["materials"][0 if mid == "steel" else 1]["initial"]  # not reset
        delivery = next(
            m["payload"] for m in msgs
            if m["topic"].endswith(f"/{first}/material") and m["payload"]["material"] == mid
        )  # fmt: skip
        # Parts the first station finished from the start to the delivery.
        counts = [
            m["payload"] for m in msgs
            if m["topic"].endswith(f"/{first}/count") and m["payload"]["ts"] <= delivery["ts"]
        ]  # fmt: skip
        parts = counts[-1]["total"] - counts[0]["total"]
        before = delivery["level"] - delivery["delivered"]
        most = max(bill.values())
        least = min(bill.values())
        # Each part used between `least` and `most`; the part in work may have drawn too.
        assert resumed - most * (parts + 1) <= before <= resumed - least * parts, (line, mid)


def test_the_demo_handover_goes_on_with_the_orders(tmp_path):
    """`shopfloor demo`: its bulk backfill writes the history straight into the store, then
    the run it starts goes on from the store (shopfloor.cli.demo: the same options)."""
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump(CFG))
    cfg = load_config(tmp_path / "plant.yaml")
    db = tmp_path / "shopfloor.db"
    # The demo's bulk backfill (Stack.bulk_backfill): 20 hours, into the store.
    proc = run_cli(
        "sim", "--config", str(tmp_path / "plant.yaml"), "--fast", "--store", f"sqlite:///{db}",
        "--start", START, "--duration", "20h", "--report", str(tmp_path / "bulk.json"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bulk = by_id(json.loads((tmp_path / "bulk.json").read_text()))
    store = SqliteStore(db)
    try:
        stored_until = plant_stored_until_ms(cfg, store)
        # What the demo's next run is given (now_ms 0: a bounded run, not a live one).
        args = continue_args(cfg, store, START_MS, 0)
        assert "--resume" in args
        proc = run_cli(
            "sim", "--config", str(tmp_path / "plant.yaml"), "--fast", "--duration", "10h",
            "--jsonl", str(tmp_path / "live.jsonl"), "--report", str(tmp_path / "live.json"), *args,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        live_truth = json.loads((tmp_path / "live.json").read_text())
        assert live_truth["plant"]["start_ms"] == stored_until + 1
        store.write(jsonl_records(tmp_path / "live.jsonl"))
        live = by_id(live_truth)
        events = store.order_events(END_OF_TIME_MS)
    finally:
        store.close()
    in_flight = {i for i, o in bulk.items() if o["start_ms"] is not None and o["finish_ms"] is None}
    assert in_flight, "an order in flight at the handover"
    for i in in_flight:
        assert live[i]["finish_ms"] is not None and live[i]["start_ms"] == bulk[i]["start_ms"]
    finished = {i for i, o in bulk.items() if o["finish_ms"] is not None}
    assert not finished & set(live)
    released = Counter(e["order_id"] for e in events if e["event"] == "released")
    done = Counter(e["order_id"] for e in events if e["event"] == "finished")
    assert set(released) == set(bulk) | set(live) and set(released.values()) == {1}
    assert set(done.values()) == {1}
    folded = {o.id: o for o in fold_events(events)}
    for i, want in {**bulk, **live}.items():
        got: OrderFacts = folded[i]
        assert (got.finish_ms, got.good, got.scrap) == (
            want["finish_ms"],
            want["good"],
            want["scrap"],
        ), i
