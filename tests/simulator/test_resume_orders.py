"""A line's order book handed to a restarted run (simulator.resume.OrderBook), worked by hand
on a line of three deterministic one-minute stations without failures or scrap (issue 12;
docs/architecture.md, Orders and products: a restarted plant)."""

from __future__ import annotations

from typing import Any

from simulator.resume import OpenOrder, OrderBook, Resume
from simulator.run import run
from simulator.sinks import ListSink
from tests.simulator.helpers import START_MS, plant, station

H_MS = 3_600_000


def _plant(**orders: Any):
    return plant(
        [station("s1"), station("s2"), station("s3")],
        products=[{"id": "A", "line": "l1"}],
        orders=orders,
    )


def _run(cfg, book: OrderBook, hours: float = 2) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sink = ListSink()
    res = run(cfg, sink, START_MS, hours * 3600, resume={"s1": Resume(seq=50, orders=book)})
    events = [p for t, p, _ in sink.messages if t.endswith("/s1/order")]
    return res.report, events


def test_an_order_in_flight_makes_what_is_left_and_finishes_once():
    cfg = _plant(plan=[{"id": "o1", "product": "A", "quantity": 10, "release_h": 0, "due_h": 1}])
    started = START_MS - H_MS
    book = OrderBook(
        open=[
            OpenOrder(id="o1", product="A", quantity=10, release_ts=started - 60_000,
                      due_ts=START_MS + H_MS, start_ts=started, good=4, scrap=1),
        ]
    )  # fmt: skip
    report, events = _run(cfg, book)
    # Six parts left: the last leaves the third one-minute station (6 + 2) minutes later.
    assert [(e["event"], e["ts"] - START_MS) for e in events] == [("finished", 480_000)]
    (o1,) = report["orders"]["orders"]
    assert (o1["good"], o1["scrap"], o1["start_ms"]) == (10, 1, started)
    assert o1["release_ms"] == started - 60_000  # its lead time counts from its true release
    assert report["machines"]["s1"]["total_count"] == 6
    # The plan's o1 (released at the start) is the same order: not released again.
    assert all(e["order_id"] == "o1" for e in events)


def test_an_order_with_its_good_parts_all_made_finishes_at_the_start():
    cfg = _plant()
    book = OrderBook(
        open=[
            OpenOrder(id="o9", product="A", quantity=5, release_ts=START_MS - H_MS,
                      due_ts=START_MS + H_MS, start_ts=START_MS - H_MS, good=5),
        ]
    )  # fmt: skip
    report, events = _run(cfg, book)
    assert [(e["event"], e["ts"], e["good"]) for e in events] == [("finished", START_MS, 5)]
    assert report["machines"]["s1"]["total_count"] == 0  # nothing more made


def test_known_plan_orders_are_not_released_again_and_generated_ids_go_on():
    cfg = _plant(
        plan=[
            {"id": "done-1", "product": "A", "quantity": 3, "release_h": 0, "due_h": 1},
            {"id": "open-1", "product": "A", "quantity": 3, "release_h": 0, "due_h": 1},
            {"id": "new-1", "product": "A", "quantity": 3, "release_h": 1, "due_h": 2},
        ],
        demand={"seed": 1, "products": {"A": {"orders_per_day": 48, "quantity": 1, "due_h": 4}}},
    )
    book = OrderBook(
        open=[
            OpenOrder(id="open-1", product="A", quantity=3, release_ts=START_MS - 7_200_000,
                      due_ts=START_MS - H_MS),
        ],
        finished=["done-1"],
        generated={"A": 41},
    )  # fmt: skip
    report, events = _run(cfg, book, hours=6)
    ids = [o["id"] for o in report["orders"]["orders"]]
    assert "done-1" not in ids
    released = [e["order_id"] for e in events if e["event"] == "released"]
    # open-1 was released by the earlier run; new-1 at its time, once.
    assert "open-1" not in released and released.count("new-1") == 1
    generated = sorted(i for i in ids if i.startswith("A-"))
    assert generated and generated == [f"A-{n:05d}" for n in range(42, 42 + len(generated))]
    # open-1 was first in the queue: started at once, with its true release and due.
    open1 = next(o for o in report["orders"]["orders"] if o["id"] == "open-1")
    assert open1["start_ms"] == START_MS and open1["release_ms"] == START_MS - 7_200_000
    assert not open1["on_time"]


def test_a_planned_order_named_like_a_generated_one_is_not_released_again(tmp_path):
    """A plan's `A-00012` has a generated id's shape (`<product>-<5 digits>`): the plan, not
    the shape, says it was planned. Run 1 (an hour, no demand) makes its 3 parts: released at
    the start, its third part leaves the third one-minute station at (3 + 2) minutes. Stored
    in a real SQLite store and read back, it is a finished planned order, never released
    again, and no generated id was ever made (no demand), so none goes on from 12."""
    import orjson

    from collector.validate import validate
    from shopfloor.store.base import Record
    from shopfloor.store.sqlite import SqliteStore
    from simulator.resume import from_store

    cfg = _plant(
        plan=[{"id": "A-00012", "product": "A", "quantity": 3, "release_h": 0, "due_h": 1}]
    )
    sink = ListSink()
    first = run(cfg, sink, START_MS, 3600)
    events = [
        (p["event"], p["ts"] - START_MS) for t, p, _ in sink.messages if t.endswith("/s1/order")
    ]
    assert ("finished", 300_000) in events  # the hand-worked timeline
    store = SqliteStore(tmp_path / "s.db")
    recs = [validate(t, orjson.dumps(p), 10**13, 10**12, 10**6) for t, p, _ in sink.messages]
    assert all(isinstance(r, Record) for r in recs)
    store.write(recs)  # type: ignore[arg-type]
    resume = from_store(store, None, cfg)
    store.close()
    book = resume["s1"].orders
    assert book is not None
    assert book.finished == ["A-00012"] and book.open == [] and book.generated == {}
    assert [o["id"] for o in first.report["orders"]["orders"]] == ["A-00012"]

    second = ListSink()
    report = run(cfg, second, START_MS + 3_600_000, 3600, resume=resume).report
    assert report["orders"]["orders"] == []
    assert not [p for t, p, _ in second.messages if t.endswith("/s1/order")]
    assert report["machines"]["s1"]["total_count"] == 0
