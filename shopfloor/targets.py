"""KPI targets and how a measured KPI stands against one: below, near or at/above target.

The config's `targets:` (plant) and `lines[].targets:` (per line) override these defaults key
by key. The defaults are the "world-class" OEE figures of the OEE literature (Nakajima, 1988):
availability 90%, performance 95%, quality 99.9%, OEE 85% (a typical plant runs near 60%).
kWh per good part has no sensible default: it depends on the product, so it has no colour
until a config sets it.
"""

from __future__ import annotations

from typing import Literal

from shopfloor.config.schema import PlantConfig, Targets

DEFAULTS: dict[str, float | None] = {
    "oee": 0.85,
    "availability": 0.90,
    "performance": 0.95,
    "quality": 0.999,
    "kwh_per_good_part": None,
    "near_fraction": 0.05,
}
# The KPIs where less is better.
LOWER_IS_BETTER = frozenset({"kwh_per_good_part"})

Status = Literal["above", "near", "below", "none"]


def _merge(into: dict[str, float | None], over: Targets | None) -> None:
    if over is None:
        return
    for key, value in over.model_dump().items():
        if value is not None:
            into[key] = value


def targets_for(cfg: PlantConfig | None, line: str | None = None) -> dict[str, float | None]:
    """The targets of the plant (line None) or of one line: defaults <- plant <- line."""
    out = dict(DEFAULTS)
    if cfg is None:
        return out
    _merge(out, cfg.targets)
    if line is not None:
        _merge(out, next((ln.targets for ln in cfg.lines if ln.id == line), None))
    return out


def status(key: str, value: float | None, targets: dict[str, float | None]) -> Status:
    """Above when the target is met (for kWh per part: at or under it), near when short of it
    by less than near_fraction of the target, else below; none without a target or a value."""
    target = targets.get(key)
    if target is None or value is None:
        return "none"
    near = (targets.get("near_fraction") or 0.0) * target
    if key in LOWER_IS_BETTER:
        return "above" if value <= target else "near" if value <= target + near else "below"
    return "above" if value >= target else "near" if value >= target - near else "below"
