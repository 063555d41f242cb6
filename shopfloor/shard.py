"""One part of a plant for one simulator process (issue 15, scaling out: `shopfloor sim
--lines L1,L2` or `--area A`; docs/scaling.md).

A shard is the plant config with only the chosen lines. Every random stream of the
simulator is named after the plant's seed and the line (and station, material, product) it
drives (simulator/plant.py, materials.py, orders.py, maintenance.py, meter.py), never drawn
from a plant-wide stream, and lines share nothing but the shift calendar: so each machine of a
shard sends exactly what it sends in a run of the whole plant, and the shards of a plant
together send the whole plant's messages (tests/integration/test_sharded.py checks this
message for message). The ground truth (`--report`) of a shard covers its lines only.
"""

from __future__ import annotations

from shopfloor.config.schema import PlantConfig


class ShardError(ValueError):
    pass


def select(cfg: PlantConfig, lines: list[str] | None, area: str | None) -> PlantConfig:
    """The config with the lines named (`lines`) or the lines of one area (`area`); both
    None: the config as it is. Unknown ids are named in the error."""
    if lines is None and area is None:
        return cfg
    if lines is not None and area is not None:
        raise ShardError("--lines and --area both choose the part of the plant: give one")
    have = [line.id for line in cfg.lines]
    if lines is not None:
        unknown = [x for x in lines if x not in have]
        if unknown or not lines:
            raise ShardError(
                f"--lines: no line {', '.join(map(repr, unknown)) or '(none given)'} in the "
                f"plant config (lines: {', '.join(have)})"
            )
        wanted = set(lines)
    else:
        areas = sorted({line.area for line in cfg.lines})
        if area not in areas:
            raise ShardError(
                f"--area: no area {area!r} in the plant config (areas: {', '.join(areas)})"
            )
        wanted = {line.id for line in cfg.lines if line.area == area}
    # Products of the other lines stay in the config but no line here makes them
    # (simulator/orders.py builds order books for the lines present only).
    return cfg.model_copy(update={"lines": [ln for ln in cfg.lines if ln.id in wanted]})


def shard_name(lines: list[str] | None, area: str | None) -> str | None:
    """A short name of the shard for its MQTT client id (two shards must not share one: the
    broker would disconnect the first when the second connects)."""
    if area is not None:
        return f"area-{area}"
    if lines is not None:
        return "lines-" + "-".join(lines)
    return None
