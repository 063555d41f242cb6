"""The Machine page's SPC chart (issue 12, tool wear): one process value of one machine over
the page's range, as the kernel's I-MR chart (shopfloor/spc.py) of its running means.

A point is the mean of the samples taken while the machine ran in one bucket of whole
minutes (about `POINTS` buckets over the range, at least one minute; 5 minutes for a day): the process value
means something for quality only while cutting, and thousands of 10-second samples would put
the Western Electric rules' false alarms minutes apart."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.context import DashContext
from dashboard.data import window_ms
from shopfloor import spc
from shopfloor.config.maintenance import KIND_VALUES
from shopfloor.store.base import StoreError

POINTS = 300
MIN_POINTS = 8  # fewer: no chart (limits from a handful of points mean little)


@dataclass
class SpcView:
    name: str
    points: list[tuple[int, float]]  # (bucket start ms, mean while running)
    chart: spc.Chart | None
    every_ms: int
    t0_ms: int
    t1_ms: int
    error: str | None = None  # an i18n key (spc.too_few) or a store's message


def value_names(ctx: DashContext, machine: str) -> list[str]:
    """The process values a machine sends, from its kind (the config's, else the store's)."""
    kind = None
    if ctx.cfg is not None:
        kind = next((st.kind for _, st in ctx.cfg.stations() if st.id == machine), None)
    if kind is None:
        try:
            kind = next((m.kind for m in ctx.store.machines() if m.machine == machine), None)
        except StoreError:
            kind = None
    return list(KIND_VALUES.get(kind or "", ()))


def default_value(ctx: DashContext, machine: str, names: list[str]) -> str | None:
    """The value the config says wears (tool wear, else the first precursor's), else the
    kind's first."""
    if ctx.cfg is not None:
        for _, st in ctx.cfg.stations():
            if st.id != machine:
                continue
            if st.tool_wear is not None and st.tool_wear.value in names:
                return st.tool_wear.value
            if st.maintenance is not None:
                for pre in st.maintenance.precursors.values():
                    if pre.value in names:
                        return pre.value
    return names[0] if names else None


def bucket_ms(t0_ms: int, t1_ms: int, points: int = POINTS) -> int:
    minutes = max(1, -(-(t1_ms - t0_ms) // (points * 60_000)))
    return minutes * 60_000


def spc_view(
    ctx: DashContext, machine: str, name: str, range_kind: str, now_s: float | None = None
) -> SpcView:
    t0_ms = t1_ms = 0
    try:
        t0_ms, t1_ms = window_ms(ctx, range_kind, now_s)
        samples = ctx.store.process_values(machine, name, t0_ms, t1_ms)
        changes = ctx.store.states(t0_ms, t1_ms, machine).get(machine, [])
    except StoreError as exc:
        return SpcView(name, [], None, 0, t0_ms, t1_ms, str(exc))
    every = bucket_ms(t0_ms, t1_ms)
    running = spc.running_only(samples, [(ts, state) for ts, state, _ in changes])
    points = spc.bucket_means(running, every)
    if len(points) < MIN_POINTS:
        return SpcView(name, points, None, every, t0_ms, t1_ms, "spc.too_few")
    chart = spc.imr([v for _, v in points], baseline=spc.default_baseline(len(points)))
    return SpcView(name, points, chart, every, t0_ms, t1_ms)
