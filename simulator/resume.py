"""Where a restarted plant picks up: each machine's last seq and meter readings.

A new run of the same plant (the demo's second start, a reconciliation beside a running plant)
goes on from what the store holds, so seq has no restart and the cumulative counters and the
energy meter never step back (a KPI over a range spanning both runs subtracts readings).
The ground truth of the new run still counts from zero: these are offsets of what is sent.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shopfloor.store.base import Store
from shopfloor.store.rollup import END_OF_TIME_MS

NonNeg = Annotated[int, Field(ge=0)]


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: NonNeg = 0
    total: NonNeg = 0
    good: NonNeg = 0
    scrap: NonNeg = 0
    energy_kwh: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


RESUME = TypeAdapter(dict[str, Resume])


def from_store(store: Store, machines: set[str] | None = None) -> dict[str, Resume]:
    """What the store holds of each machine's last run (all machines, or just `machines`)."""
    seqs = store.max_seq()
    counts = store.counter_at("count", END_OF_TIME_MS)
    meters = store.counter_at("energy", END_OF_TIME_MS)
    out = {}
    for m in set(seqs) | set(counts) | set(meters):
        if machines is not None and m not in machines:
            continue
        c = counts.get(m, (0, {}))[1]
        out[m] = Resume(
            seq=seqs.get(m, 0),
            total=int(c.get("total", 0)),
            good=int(c.get("good", 0)),
            scrap=int(c.get("scrap", 0)),
            energy_kwh=float(meters.get(m, (0, {"energy_kwh": 0.0}))[1]["energy_kwh"]),
        )
    return out
