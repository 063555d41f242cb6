"""Rules that relate the production keys (issue 12): products, changeovers and work orders,
and the work-order CSV (`orders.csv`).

Each finding is (key path, reason), like shopfloor.config.semantics, which calls `findings`.
A CSV row's problems are named `orders.csv[row N].<column>` (N counts the header as row 1, as a
spreadsheet shows it).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shopfloor.config.schema import Changeover, PlantConfig, Product, WorkOrder
from shopfloor.validation import format_errors

Finding = tuple[str, str]
CSV_COLUMNS = tuple(WorkOrder.model_fields)


def _known(ids: list[str]) -> str:
    return ", ".join(sorted(ids)) or "none declared"


def resolve_csv_path(data: Any, base: Path) -> None:
    """Make a relative `orders.csv` relative to the config file's folder (load_config calls
    this on the raw YAML data, so every later reader finds the same file)."""
    orders = data.get("orders") if isinstance(data, dict) else None
    path = orders.get("csv") if isinstance(orders, dict) else None
    if isinstance(path, str) and path and not Path(path).is_absolute():
        orders["csv"] = str(base / path)


def read_csv(path: str) -> tuple[list[WorkOrder], list[Finding]]:
    """The work orders of a CSV file, and a finding per row (or file) that is not one."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except FileNotFoundError:
        return [], [("orders.csv", f"file not found: {path}")]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], [("orders.csv", f"cannot read {path}: {exc}")]
    # csv.DictReader keeps the last cell of a repeated column: the others would vanish.
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        return [], [("orders.csv", f"duplicate column {', '.join(map(repr, twice))} in {path}")]
    # csv.DictReader files a row's cells beyond the header under the key None.
    unknown = [c for c in header if c is not None and c not in CSV_COLUMNS]
    if unknown:
        return [], [
            (
                "orders.csv",
                f"unknown column {', '.join(map(repr, unknown))} in {path} "
                f"(columns: {', '.join(CSV_COLUMNS)})",
            )
        ]
    out: list[WorkOrder] = []
    found: list[Finding] = []
    for n, row in enumerate(rows, start=2):
        extra = row.get(None)
        if extra:
            named = len(row) - 1
            found.append(
                (f"orders.csv[row {n}]", f"{named + len(extra)} cells, the header names {named}")
            )
            continue
        data = {k: v.strip() for k, v in row.items() if k is not None and v and v.strip()}
        try:
            out.append(WorkOrder.model_validate(data))
        except ValidationError as exc:
            for err in format_errors(exc, WorkOrder):  # "key: reason"
                key, _, reason = err.partition(": ")
                found.append((f"orders.csv[row {n}].{key}", reason))
    return out, found


def plan(cfg: PlantConfig) -> list[tuple[str, WorkOrder]]:
    """Every planned work order with its key path: `orders.plan`, then the CSV's rows (read
    again here: findings() has checked them)."""
    if cfg.orders is None:
        return []
    out = [(f"orders.plan[{i}]", o) for i, o in enumerate(cfg.orders.plan)]
    if cfg.orders.csv:
        rows, _ = read_csv(cfg.orders.csv)
        out += [(f"orders.csv[row {n}]", o) for n, o in enumerate(rows, start=2)]
    return out


def local_ms(text: str, tz: ZoneInfo) -> int:
    """Epoch ms of a local date-time in the plant's zone (`2026-11-23 06:00`)."""
    return round(
        datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=tz).timestamp() * 1000
    )


def makes_products(cfg: PlantConfig, line_id: str) -> bool:
    """A line with work orders: its changeovers come with them, not with batch_size."""
    return cfg.orders is not None and any(p.line == line_id for p in cfg.products)


def _changeover_applies(cfg: PlantConfig, path: str, co: Changeover) -> list[Finding]:
    """A changeover that can never apply (simulator/orders.py, _setup_matrix, picks a rule
    for a pair of products of one line: both named by id, or both by family; one without a
    `station` only at stations with setup_min)."""
    by_line: dict[str, list[Product]] = {}
    for prod in cfg.products:
        by_line.setdefault(prod.line, []).append(prod)

    def matches(a: Product, b: Product) -> bool:
        by_id = (a.id, b.id) == (co.from_, co.to)
        return by_id or (a.family is not None and (a.family, b.family) == (co.from_, co.to))

    lines = [
        line
        for line in cfg.lines
        if any(matches(a, b) for a in by_line.get(line.id, []) for b in by_line.get(line.id, []))
    ]
    if not lines:
        return [
            (
                path,
                f"from {co.from_!r} to {co.to!r} can never apply: no line makes both (name "
                "two products of one line, or two families, not one of each)",
            )
        ]
    if co.station is not None:
        if not any(st.id == co.station for line in lines for st in line.stations):
            where = ", ".join(line.id for line in lines)
            return [
                (
                    f"{path}.station",
                    f"{co.station!r} is not on the line that makes {co.from_!r} and "
                    f"{co.to!r} ({where}): the changeover can never apply",
                )
            ]
    elif not any(st.setup_min is not None for line in lines for st in line.stations):
        where = ", ".join(line.id for line in lines)
        return [
            (
                path,
                f"can never apply: a changeover without a station applies at the stations "
                f"with setup_min, and none on {where} has one (give setup_min or station)",
            )
        ]
    return []


def _generated_like(oid: str, pid: str) -> bool:
    """Whether `oid` has the form of an id demand generates for `pid` (orders._demand)."""
    head, sep, n = oid.rpartition("-")
    return bool(sep) and head == pid and len(n) >= 5 and n.isascii() and n.isdigit()


def findings(cfg: PlantConfig) -> list[Finding]:
    found: list[Finding] = []
    lines = {line.id: line for line in cfg.lines}
    products: dict[str, int] = {}
    families: set[str] = set()
    for i, prod in enumerate(cfg.products):
        path = f"products[{i}]"
        if prod.id in products:
            found.append((f"{path}.id", f"duplicate product id {prod.id!r}"))
        products.setdefault(prod.id, i)
        if prod.family:
            families.add(prod.family)
        line = lines.get(prod.line)
        if line is None:
            found.append(
                (f"{path}.line", f"unknown line {prod.line!r} (lines: {_known(list(lines))})")
            )
            continue
        by_id = {st.id: st for st in line.stations}
        for sid, ps in prod.stations.items():
            spath = f"{path}.stations.{sid}"
            st = by_id.get(sid)
            if st is None:
                found.append(
                    (
                        spath,
                        f"no station {sid!r} on line {line.id} (stations: {_known(list(by_id))})",
                    )
                )
                continue
            ideal = ps.ideal_cycle_s if ps.ideal_cycle_s is not None else st.ideal_cycle_s
            if ps.cycle_s is not None and ps.cycle_s.mean < ideal:
                found.append(
                    (
                        f"{spath}.cycle_s.mean",
                        f"must be >= the ideal cycle ({ideal:g}), got {ps.cycle_s.mean:g}",
                    )
                )
    names = set(products) | families
    stations = {st.id for _, st in cfg.stations()}
    for i, co in enumerate(cfg.changeovers):
        path = f"changeovers[{i}]"
        for key, value in (("from", co.from_), ("to", co.to)):
            if value not in names:
                found.append(
                    (
                        f"{path}.{key}",
                        f"unknown product or family {value!r} ({_known(list(names))})",
                    )
                )
        if co.station is not None and co.station not in stations:
            found.append((f"{path}.station", f"unknown station {co.station!r}"))
        elif co.from_ in names and co.to in names:
            found += _changeover_applies(cfg, path, co)
    if cfg.orders is None:
        if cfg.products:
            found.append(("products", "needs orders (a line makes products by work orders)"))
        if cfg.changeovers:
            found.append(("changeovers", "needs orders (changeovers happen between orders)"))
        return found
    if not cfg.products:
        found.append(("orders", "needs products (each order names one)"))
    if cfg.orders.csv:
        _, bad = read_csv(cfg.orders.csv)
        found += bad
        if bad:
            return found
    seen: dict[str, str] = {}
    generated = set(cfg.orders.demand.products) if cfg.orders.demand is not None else set()
    for path, order in plan(cfg):
        head = order.id.rpartition("-")[0]
        if head in generated and _generated_like(order.id, head):
            found.append(
                (
                    f"{path}.id",
                    f"{order.id!r} has the form of the ids generated demand gives {head} "
                    f"orders ({head}-00001, {head}-00002, ...): choose another",
                )
            )
        if order.id in seen:
            found.append(
                (f"{path}.id", f"duplicate order id {order.id!r} (first at {seen[order.id]})")
            )
        seen.setdefault(order.id, path)
        if order.product not in products:
            found.append(
                (f"{path}.product", f"unknown product {order.product!r} ({_known(list(products))})")
            )
        if order.release is not None and order.release_h is not None:
            found.append((f"{path}.release_h", "give release or release_h, not both"))
        if (order.due is None) == (order.due_h is None):
            found.append((f"{path}.due", "give one of due (local date-time) or due_h"))
        when: dict[str, datetime] = {}
        for key in ("release", "due"):
            text = getattr(order, key)
            if text is not None:
                try:
                    when[key] = datetime.fromisoformat(text.replace(" ", "T"))
                except ValueError:
                    found.append((f"{path}.{key}", f"not a date-time: {text!r}"))
        if "release" in when and "due" in when and when["due"] <= when["release"]:
            found.append((f"{path}.due", f"must be after release ({order.release})"))
        if (
            order.release_h is not None
            and order.due_h is not None
            and order.due_h <= order.release_h
        ):
            found.append((f"{path}.due_h", f"must be after release_h ({order.release_h:g})"))
    demand = cfg.orders.demand
    for pid in demand.products if demand is not None else {}:
        if pid not in products:
            found.append(
                (
                    f"orders.demand.products.{pid}",
                    f"unknown product {pid!r} ({_known(list(products))})",
                )
            )
    return found
