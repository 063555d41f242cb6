"""Work-order KPIs (issue 12), shared by the simulator's ground truth, the store's report
(`shopfloor kpi`) and the dashboard's Orders page, so all three define them the same way.

Over a range [t0, t1) of epoch milliseconds, from each order's release, due, start and finish:
- OTIF (on time in full): of the orders due in the range, the share finished by their due
  time with at least the ordered quantity of good parts. An order due in the range and not
  finished counts as late.
- on time, in full: each half of OTIF alone (in full: of the orders due in the range that
  finished).
- lead time: finish - release of the orders finished in the range (mean and max, seconds);
  flow time: finish - start (the time on the line).
- WIP: orders released and not finished, time-averaged over the range (`wip_orders_avg`,
  Little's law: arrival rate x mean lead time) and at its end (`wip_orders_end`).
- schedule attainment: the quantity due in the range that was delivered by its due time
  (min(good, quantity) of each order finished by its due) over the quantity due.
A ratio with nothing to divide by is None (no order due is not 0% on time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OrderFacts:
    id: str
    line: str
    product: str
    quantity: int
    release_ms: int
    due_ms: int
    start_ms: int | None = None
    finish_ms: int | None = None
    good: int = 0
    scrap: int = 0

    @property
    def on_time(self) -> bool:
        return self.finish_ms is not None and self.finish_ms <= self.due_ms

    @property
    def in_full(self) -> bool:
        return self.finish_ms is not None and self.good >= self.quantity

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        done = self.finish_ms is not None
        out["lead_time_s"] = (self.finish_ms - self.release_ms) / 1000.0 if done else None  # type: ignore[operator]
        out["on_time"] = self.on_time
        out["in_full"] = self.in_full
        return out


def _share(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


def order_kpis(orders: Iterable[OrderFacts], t0_ms: int, t1_ms: int) -> dict[str, Any]:
    """The KPIs of the module docstring over [t0_ms, t1_ms)."""
    items = list(orders)
    due = [o for o in items if t0_ms <= o.due_ms < t1_ms]
    done = [o for o in items if o.finish_ms is not None and t0_ms <= o.finish_ms < t1_ms]
    done_due = [o for o in due if o.finish_ms is not None and o.finish_ms < t1_ms]
    leads = [(o.finish_ms - o.release_ms) / 1000.0 for o in done]  # type: ignore[operator]
    flows = [(o.finish_ms - o.start_ms) / 1000.0 for o in done if o.start_ms is not None]  # type: ignore[operator]
    qty_due = sum(o.quantity for o in due)
    delivered = sum(min(o.good, o.quantity) for o in due if o.on_time)
    span = t1_ms - t0_ms
    area = 0.0
    for o in items:
        a = max(o.release_ms, t0_ms)
        b = min(o.finish_ms if o.finish_ms is not None else t1_ms, t1_ms)
        if b > a:
            area += b - a
    return {
        "orders_due": len(due),
        "orders_released": sum(1 for o in items if t0_ms <= o.release_ms < t1_ms),
        "orders_started": sum(
            1 for o in items if o.start_ms is not None and t0_ms <= o.start_ms < t1_ms
        ),
        "orders_finished": len(done),
        "otif": _share(sum(1 for o in due if o.on_time and o.in_full), len(due)),
        "on_time": _share(sum(1 for o in due if o.on_time), len(due)),
        "in_full": _share(sum(1 for o in done_due if o.in_full), len(done_due)),
        "lead_time_mean_s": sum(leads) / len(leads) if leads else None,
        "lead_time_max_s": max(leads) if leads else None,
        "flow_time_mean_s": sum(flows) / len(flows) if flows else None,
        "wip_orders_avg": area / span if span > 0 else 0.0,
        "wip_orders_end": sum(
            1
            for o in items
            if o.release_ms <= t1_ms and (o.finish_ms is None or o.finish_ms > t1_ms)
        ),
        "schedule_attainment": delivered / qty_due if qty_due > 0 else None,
        "good_delivered": sum(o.good for o in done),
    }


def orders_report(
    orders: Iterable[OrderFacts], t0_ms: int, t1_ms: int, line_order: Iterable[str] = ()
) -> dict[str, Any]:
    """{"plant": kpis, "lines": {line: kpis}, "orders": [one dict per order]}: the `orders`
    part of a report (shopfloor.report), lines in `line_order` then any others."""
    items = sorted(orders, key=lambda o: (o.release_ms, o.id))
    by_line: dict[str, list[OrderFacts]] = {lid: [] for lid in line_order}
    for o in items:
        by_line.setdefault(o.line, []).append(o)
    return {
        "plant": order_kpis(items, t0_ms, t1_ms),
        "lines": {lid: order_kpis(os, t0_ms, t1_ms) for lid, os in by_line.items()},
        "orders": [o.as_dict() for o in items],
    }


def fold_events(events: Iterable[Mapping[str, Any]]) -> list[OrderFacts]:
    """Orders from `order` channel payloads (shopfloor.contract.OrderPayload) with their line:
    each event carries the whole order so far, so the latest event (by ts, then seq) of an
    order is its state; events may come in any order and twice."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for e in events:
        key = (e["line"], e["order_id"])
        prev = latest.get(key)
        if prev is None or (e["ts"], e["seq"]) > (prev["ts"], prev["seq"]):
            latest[key] = e
    return [
        OrderFacts(
            id=e["order_id"],
            line=e["line"],
            product=e["product"],
            quantity=e["quantity"],
            release_ms=e["release_ts"],
            due_ms=e["due_ts"],
            start_ms=e.get("start_ts"),
            finish_ms=e.get("finish_ts"),
            good=e.get("good", 0),
            scrap=e.get("scrap", 0),
        )
        for e in latest.values()
    ]
