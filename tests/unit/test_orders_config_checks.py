"""Config checks of work orders found in review (issue 12): a date-time's error says it wants a
date-time, a due date before its release, products that nothing makes, a CSV row with more
cells than its header."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.config import ConfigError, load_config

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
