"""Starvation by cause (issue 12, materials): why machines waited for work, from the seconds
per (state, reason) that the stores' loss rollups and the simulator's ground truth both keep.

The causes: `upstream` (starved, `waiting for <station>`: the station before it had nothing to
pass on), `no_material` (starved, `no material: <id>`: the line's raw material ran out, one
entry per material) and `no_order` (reason `no order`: nothing released to make, written as
`idle` by the order gate, and `starved` by nobody today but counted either way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

UPSTREAM = "upstream"
NO_MATERIAL = "no_material"
NO_ORDER = "no_order"
CAUSES: tuple[str, ...] = (UPSTREAM, NO_MATERIAL, NO_ORDER)
WAITING_PREFIX = "waiting for "
MATERIAL_PREFIX = "no material: "
NO_ORDER_REASON = "no order"


def cause_of(state: str, reason: str) -> tuple[str, str] | None:
    """(cause, detail) of a loss, detail the material id for `no_material` (else ""); None
    for a loss that is not a wait for work (down, blocked, setup, ...)."""
    if reason == NO_ORDER_REASON and state in ("idle", "starved"):
        return NO_ORDER, ""
    if state != "starved":
        return None
    if reason.startswith(MATERIAL_PREFIX):
        return NO_MATERIAL, reason[len(MATERIAL_PREFIX) :]
    if reason.startswith(WAITING_PREFIX) and reason != "waiting for material":
        return UPSTREAM, ""
    return None


def by_cause(
    seconds: Mapping[tuple[str, str], float] | Iterable[tuple[str, str, float]],
) -> dict[tuple[str, str], float]:
    """Seconds per (cause, detail), in CAUSES order then by detail, from seconds per
    (state, reason) (a mapping, or (state, reason, seconds) triples)."""
    items = (
        ((s, r, v) for (s, r), v in seconds.items()) if isinstance(seconds, Mapping) else seconds
    )
    out: dict[tuple[str, str], float] = {}
    for state, reason, secs in items:
        got = cause_of(state, reason)
        if got is not None and secs > 0:
            out[got] = out.get(got, 0.0) + secs
    return dict(sorted(out.items(), key=lambda kv: (CAUSES.index(kv[0][0]), kv[0][1])))
