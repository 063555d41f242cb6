"""Config checks of work orders found in review (issue 12): a date-time's error says it wants a
date-time, a due date before its release, products that nothing makes, a CSV row with more
cells than its header, plan ids of the form demand generates, changeovers that can never
apply, materials nothing uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shopfloor.config import ConfigError, load_config, parse_config

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "small.yaml"


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(GOLDEN.read_text() + text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    return exc.value.errors


def test_a_malformed_date_time_is_asked_for_as_one(tmp_path: Path):
    errors = _errors(
        tmp_path,
        "products: [{id: A, line: line-1}]\n"
        'orders: {plan: [{id: o1, product: A, quantity: 1, release: "2026-11-24", due_h: 9}]}\n',
    )
    assert errors == [
        "orders.plan[0].release: must be a local date-time YYYY-MM-DD HH:MM, got '2026-11-24'"
    ]


def test_a_due_date_before_its_release_is_refused(tmp_path: Path):
    errors = _errors(
        tmp_path,
        "products: [{id: A, line: line-1}]\n"
        "orders: {plan: [{id: o1, product: A, quantity: 1, "
        'release: "2026-11-24 06:00", due: "2026-11-23 22:00"}]}\n',
    )
    assert errors == ["orders.plan[0].due: must be after release (2026-11-24 06:00)"]


def test_products_without_orders_are_refused(tmp_path: Path):
    # Without orders no line makes products: their figures would be ignored without a word.
    errors = _errors(tmp_path, "products: [{id: A, line: line-1}]\n")
    assert errors == ["products: needs orders (a line makes products by work orders)"]


def test_a_csv_row_with_more_cells_than_the_header_is_named(tmp_path: Path):
    (tmp_path / "plan.csv").write_text("id,product,quantity,due_h\no1,A,5,1\no2,A,5,2,9\n")
    errors = _errors(tmp_path, "products: [{id: A, line: line-1}]\norders: {csv: plan.csv}\n")
    assert errors == ["orders.csv[row 3]: 5 cells, the header names 4"]


PW = {"power_kw": {"idle": 1, "running": 2}}


def _two_lines(**kw: Any) -> list[str]:
    """l1 (s1 with setup_min, s2) makes A and B (family f), l2 (t1, no setup_min) makes C."""
    data: dict[str, Any] = {
        "plant": {"enterprise": "e", "site": "s"},
        "lines": [
            {
                "id": "l1",
                "area": "a",
                "stations": [
                    {"id": "s1", "kind": "generic", "ideal_cycle_s": 60, "setup_min": 5, **PW},
                    {"id": "s2", "kind": "generic", "ideal_cycle_s": 60, **PW},
                ],
            },
            {
                "id": "l2",
                "area": "a",
                "stations": [{"id": "t1", "kind": "generic", "ideal_cycle_s": 60, **PW}],
            },
        ],
        "products": [
            {"id": "A", "line": "l1", "family": "f"},
            {"id": "B", "line": "l1", "family": "f"},
            {"id": "C", "line": "l2"},
        ],
        "orders": {"plan": [{"id": "o1", "product": "A", "quantity": 1, "due_h": 1}]},
    }
    data.update(kw)
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.errors


def test_plan_ids_of_the_form_demand_generates_are_refused():
    # Demand for A names its orders A-00001, A-00002, ...: a planned A-00002 would be a
    # second order of that id in the orders' messages and the truth.
    errors = _two_lines(
        orders={
            "plan": [
                {"id": "A-00002", "product": "A", "quantity": 1, "due_h": 1},
                {"id": "B-00001", "product": "B", "quantity": 1, "due_h": 1},  # no demand
                {"id": "A-12", "product": "A", "quantity": 1, "due_h": 1},  # not the form
            ],
            "demand": {"products": {"A": {"orders_per_day": 2, "quantity": 5, "due_h": 8}}},
        }
    )
    assert errors == [
        "orders.plan[0].id: 'A-00002' has the form of the ids generated demand gives A "
        "orders (A-00001, A-00002, ...): choose another"
    ]


def test_changeovers_that_can_never_apply_are_refused_by_key_path():
    errors = _two_lines(
        changeovers=[
            {"from": "A", "to": "B", "setup_min": 10, "station": "s2"},  # applies
            {"from": "f", "to": "f", "setup_min": 10},  # applies at s1 (setup_min)
            {"from": "A", "to": "B", "setup_min": 10, "station": "t1"},  # t1 is on l2
            {"from": "A", "to": "C", "setup_min": 10},  # no line makes both
            {"from": "A", "to": "f", "setup_min": 10},  # a product to a family: never
            {"from": "C", "to": "C", "setup_min": 10},  # l2 has no station with setup_min
        ],
    )
    assert errors == [
        "changeovers[2].station: 't1' is not on the line that makes 'A' and 'B' (l1): the "
        "changeover can never apply",
        "changeovers[3]: from 'A' to 'C' can never apply: no line makes both (name two "
        "products of one line, or two families, not one of each)",
        "changeovers[4]: from 'A' to 'f' can never apply: no line makes both (name two "
        "products of one line, or two families, not one of each)",
        "changeovers[5]: can never apply: a changeover without a station applies at the "
        "stations with setup_min, and none on l2 has one (give setup_min or station)",
    ]


def test_a_material_no_line_or_product_uses_is_refused():
    errors = _two_lines(
        suppliers=[{"id": "sup", "lead_time_h": 4}],
        materials=[
            {"id": "steel", "supplier": "sup", "reorder_point": 5, "reorder_qty": 10},
            {"id": "resin", "supplier": "sup", "reorder_point": 5, "reorder_qty": 10},
        ],
        products=[
            {"id": "A", "line": "l1", "materials": {"steel": 1}},
            {"id": "C", "line": "l2"},
        ],
    )
    assert errors == [
        "materials[1]: material 'resin' is used by no line or product (give it in a line's "
        "or a product's materials, or remove it)"
    ]


def test_a_csv_with_a_column_named_twice_names_it(tmp_path: Path):
    (tmp_path / "plan.csv").write_text("id,product,product,due_h\no1,A,5,1\n")
    errors = _errors(tmp_path, "products: [{id: A, line: line-1}]\norders: {csv: plan.csv}\n")
    assert errors == [f"orders.csv: duplicate column 'product' in {tmp_path / 'plan.csv'}"]
