"""The ground truth of a run, in the shared report shape (shopfloor.report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopfloor.report import MachineFacts, build_report
from simulator.materials import supply_facts
from simulator.orders import ideal_cycle_s, orders_truth

if TYPE_CHECKING:
    from simulator.plant import Plant
    from simulator.station import Station


def facts(st: Station) -> MachineFacts:
    return MachineFacts(
        id=st.id,
        line=st.line_id,
        area=st.area,
        durations_s=dict(st.durations_s),
        total=st.total,
        good=st.good,
        scrap=st.scrap,
        ideal_cycle_s=ideal_cycle_s(st),  # with products: weighted by each part's own
        # A stroke meter's strokes draw on top of the state's power (simulator/meter.py).
        energy_kwh=st.energy_kwh if st.meter is None else st.meter_kwh(),
        extra={
            "kind": st.spec.kind,
            "received_count": st.received,
            "failures": len(st.failures),
            **supply_facts(st),  # issue 12, materials: only where configured
        },
    )


def _with_wear(st: Station, m: MachineFacts, start_ms: int) -> MachineFacts:
    """A station with maintenance or wear adds `maintenance`: its failures with their
    precursors' starts, maintenance windows, tool changes (simulator/maintenance.py)."""
    if st.wear is not None:
        m.extra["maintenance"] = st.wear.truth(start_ms)
    return m


def ground_truth(plant: Plant) -> dict[str, Any]:
    meta = {
        "enterprise": plant.cfg.plant.enterprise,
        "site": plant.cfg.plant.site,
        "timezone": plant.cfg.plant.timezone,
        "start_ms": plant.start_ms,
        "end_ms": plant.start_ms + round(plant.env.now * 1000),
        "seed": plant.seed,
    }
    report = build_report(
        {
            lid: [_with_wear(st, facts(st), plant.start_ms) for st in sts]
            for lid, sts in plant.lines.items()
        },
        meta,
    )
    if plant.order_books:  # issue 12: work orders, only where configured
        report["orders"] = orders_truth(plant.order_books, plant.start_ms, meta["end_ms"])
    return report
