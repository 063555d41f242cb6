"""The ground truth of a run, in the shared report shape (shopfloor.report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopfloor.report import MachineFacts, build_report

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
        ideal_cycle_s=st.spec.ideal_cycle_s,
        energy_kwh=st.energy_kwh,
        extra={"kind": st.spec.kind, "received_count": st.received, "failures": len(st.failures)},
    )


def ground_truth(plant: Plant) -> dict[str, Any]:
    meta = {
        "enterprise": plant.cfg.plant.enterprise,
        "site": plant.cfg.plant.site,
        "timezone": plant.cfg.plant.timezone,
        "start_ms": plant.start_ms,
        "end_ms": plant.start_ms + round(plant.env.now * 1000),
        "seed": plant.seed,
    }
    return build_report({lid: [facts(st) for st in sts] for lid, sts in plant.lines.items()}, meta)
