"""Work-order KPIs (shopfloor/orders.py, issue 12) on orders worked by hand."""

from __future__ import annotations

import pytest

from shopfloor.orders import OrderFacts, fold_events, order_kpis, orders_report

H = 3_600_000


def _o(
    oid: str,
    rel: float,
    due: float,
    start: float | None,
    fin: float | None,
    good: int,
    qty: int = 10,
) -> OrderFacts:
    ms = lambda h: None if h is None else int(h * H)  # noqa: E731
    return OrderFacts(oid, "l1", "A", qty, ms(rel), ms(due), ms(start), ms(fin), good, 0)  # type: ignore[arg-type]


ORDERS = [
    _o("a", 0, 4, 0, 3, 10),  # on time, in full: lead 3 h
    _o("b", 1, 5, 3, 6, 10),  # late, in full: lead 5 h
    _o("c", 2, 6.5, 6, 6.5, 8),  # on time (at its due), short: lead 4.5 h
    _o("d", 3, 7, 6.5, None, 0),  # due in the range, not finished: late
    _o("e", 9, 20, None, None, 0),  # due after the range
]


def test_otif_lead_time_wip_and_attainment_of_a_worked_example():
    k = order_kpis(ORDERS, 0, 10 * H)
    assert k["orders_due"] == 4  # a, b, c, d
    assert k["otif"] == 1 / 4  # only a
    assert k["on_time"] == 2 / 4  # a and c
    assert k["in_full"] == 2 / 3  # of the finished due ones: a and b
    assert k["lead_time_mean_s"] == pytest.approx((3 + 5 + 4.5) / 3 * 3600)
    assert k["lead_time_max_s"] == 5 * 3600
    assert k["flow_time_mean_s"] == pytest.approx((3 + 3 + 0.5) / 3 * 3600)
    # Attainment: delivered by its due: a 10, c 8 (short); b late, d not done: 18 of 40.
    assert k["schedule_attainment"] == 18 / 40
    # Orders in the system: a 3 h, b 5 h, c 4.5 h, d 7 h (to the end), e 1 h, over 10 h.
    assert k["wip_orders_avg"] == pytest.approx((3 + 5 + 4.5 + 7 + 1) / 10)
    assert k["wip_orders_end"] == 2  # d and e
    assert k["orders_released"] == 5 and k["orders_started"] == 4 and k["orders_finished"] == 3
    assert k["good_delivered"] == 28


def test_a_range_sees_only_its_part():
    k = order_kpis(ORDERS, 4 * H, 6 * H)  # due in it: a (4), b (5); finished: b (6 is out)
    assert k["orders_due"] == 2
    assert k["otif"] == 1 / 2
    assert k["orders_finished"] == 0 and k["lead_time_mean_s"] is None
    # In the system within [4, 6): b, c and d, 2 h each.
    assert k["wip_orders_avg"] == pytest.approx((2 + 2 + 2) / 2)


def test_nothing_due_is_no_ratio_not_zero():
    k = order_kpis([_o("x", 0, 50, None, None, 0)], 0, 10 * H)
    assert k["otif"] is None and k["on_time"] is None and k["in_full"] is None
    assert k["schedule_attainment"] is None and k["wip_orders_avg"] == pytest.approx(1.0)


def test_events_fold_into_each_orders_latest_state_in_any_order_and_twice():
    base = {
        "line": "l1",
        "order_id": "o1",
        "product": "A",
        "quantity": 5,
        "release_ts": 0,
        "due_ts": 9,
    }
    released = {**base, "ts": 0, "seq": 1, "event": "released"}
    started = {**base, "ts": 1, "seq": 2, "event": "started", "start_ts": 1}
    finished = {**started, "ts": 5, "seq": 9, "event": "finished", "finish_ts": 5, "good": 5}
    other = {**released, "line": "l2"}  # the same id on another line is another order
    folded = fold_events([finished, released, started, finished, other])
    assert sorted((o.line, o.start_ms, o.finish_ms, o.good) for o in folded) == [
        ("l1", 1, 5, 5),
        ("l2", None, None, 0),
    ]


def test_the_report_has_every_line_even_without_orders():
    rep = orders_report(ORDERS, 0, 10 * H, ["l0", "l1"])
    assert list(rep["lines"]) == ["l0", "l1"]
    assert rep["lines"]["l0"]["orders_due"] == 0
    assert [o["id"] for o in rep["orders"]] == ["a", "b", "c", "d", "e"]
    assert rep["orders"][1]["lead_time_s"] == 5 * 3600 and rep["orders"][3]["lead_time_s"] is None
