"""Scenarios: a plant config changed at a few key paths, validated like the config itself.

A what-if experiment (`shopfloor whatif`, docs/whatif.md) and the dashboard's scenario editor
both need "the base plant, with these keys set": this module turns a key path such as
`lines.machining-1.stations.cnc-02.mttr_min` into a place in the config, sets it, and
validates the result with the config's own schema and rules, so a scenario can never run a
plant that `shopfloor config check` would reject, and every error names its key path.

Key paths: `.` separates keys; a list item is named by its id (lines, stations), its name
(shifts) or an index (`lines[0]`); `stations.<id>` finds a station in whichever line holds
it (station ids are unique in a plant). Ids may themselves contain dots: the longest id that
matches wins.
"""

from __future__ import annotations

import itertools
import math
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopfloor.commands import LIVE_PARAMS
from shopfloor.config.load import ConfigError, parse_config, read_yaml
from shopfloor.config.schema import PlantConfig
from shopfloor.validation import format_errors, format_loc, unwrap

Loc = tuple[int | str, ...]
BASELINE = "baseline"
# Keys an experiment owns: replication r of every scenario runs with seed + r (common random
# numbers), so a scenario that changed the seed would compare luck, not plants.
RESERVED = ("seed",)
# What `--sensitivity` varies on each station (docs/whatif.md, Sensitivity).
SENSITIVITY_PARAMS: tuple[str, ...] = ("mtbf_min", "mttr_min", "cycle_s.mean", "buffer")
_INDEXED = re.compile(r"^([^\[\]]*)((?:\[\d+\])+)$")
_NAMED_BY = ("id", "name")


class OverrideError(ValueError):
    """A key path that names nothing in the config; the message says what is there."""


# The most scenarios (the baseline included) a scenario file may expand to unless the caller
# says otherwise: sweeps multiply (six keys of ten values are a million scenarios, which took
# 2 GB and never ended before this bound), and more than this would not run in a day anyway.
MAX_SCENARIOS = 10_000


class TooManyScenarios(ConfigError):
    """The sweeps of a scenario file make more scenarios than allowed."""

    def __init__(self, source: str, count: int, limit: int):
        self.count = count
        self.limit = limit
        super().__init__(
            source,
            [
                f"the sweeps make {count:,} scenarios (with the baseline), more than "
                f"{limit:,}: sweep fewer values, or split the file"
            ],
        )


@dataclass(frozen=True)
class Override:
    path: str  # as the user wrote it
    loc: Loc  # where it landed in the config (`lines[0].stations[1].mttr_min`)
    value: Any

    @property
    def where(self) -> str:
        return format_loc(self.loc)


@dataclass(frozen=True)
class LiveParam:
    """An override the running simulator can take through a `set` command (shopfloor.commands)."""

    line: str
    area: str
    station: str
    parameter: str  # one of shopfloor.commands.LIVE_PARAMS
    value: float


@dataclass(frozen=True)
class Scenario:
    name: str
    cfg: PlantConfig
    overrides: tuple[Override, ...] = ()
    # For --sensitivity runs: which station parameter moved, and by how much.
    meta: Mapping[str, Any] = field(default_factory=dict)

    def live(self) -> tuple[list[LiveParam], list[str]]:
        """The overrides a live plant can take (`set` per station), and the key paths it cannot
        (buffers, shifts, tariffs: only a restart with the edited config changes those)."""
        return live_params(self.cfg, self.overrides)


# -- key paths ---------------------------------------------------------------------------------


def split_path(text: str) -> list[str | int]:
    """`lines[0].stations.cnc-02.mttr_min` -> ['lines', 0, 'stations', 'cnc-02', 'mttr_min']."""
    if not isinstance(text, str) or not text.strip():
        raise OverrideError("empty key path")
    out: list[str | int] = []
    for part in text.strip().split("."):
        m = _INDEXED.match(part)
        if m:
            if m.group(1):
                out.append(m.group(1))
            out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
        elif part == "" or "[" in part or "]" in part:
            raise OverrideError(
                f"{text!r} is not a key path (example: lines.line-1.stations.cnc-01.mttr_min)"
            )
        else:
            out.append(part)
    return out


def _item_name(item: Any) -> str | None:
    if isinstance(item, Mapping):
        for key in _NAMED_BY:
            if isinstance(item.get(key), str):
                return item[key]
    return None


def _find_named(items: list[Any], parts: list[str | int], i: int) -> tuple[int, int] | None:
    """(index in items, how many path parts its name took): the longest id that matches."""
    best: tuple[int, int] | None = None
    for j, item in enumerate(items):
        name = _item_name(item)
        if name is None:
            continue
        for k in range(i + 1, len(parts) + 1):
            chunk = parts[i:k]
            named = all(isinstance(c, str) for c in chunk) and ".".join(map(str, chunk)) == name
            if named and (best is None or k - i > best[1]):
                best = (j, k - i)
    return best


def _station_shorthand(data: dict[str, Any], parts: list[str | int]) -> list[str | int]:
    """`stations.<id>...` -> `lines[i].stations[j]...` (ids are unique in a plant)."""
    lines = data.get("lines")
    if not isinstance(lines, list):
        raise OverrideError("the config has no lines")
    for li, line in enumerate(lines):
        stations = line.get("stations") if isinstance(line, Mapping) else None
        if isinstance(stations, list):
            hit = _find_named(stations, parts, 1)
            if hit is not None:
                return ["lines", li, "stations", hit[0], *parts[1 + hit[1] :]]
    known = ", ".join(
        str(_item_name(st))
        for line in lines
        if isinstance(line, Mapping)
        for st in line.get("stations") or []
    )
    raise OverrideError(f"no station {parts[1]!r} (stations: {known})")


def resolve(data: dict[str, Any], path: str) -> Loc:
    """Where `path` lands in the raw config `data`. Missing mapping keys are fine (setting one
    adds it, and the schema then judges it); a missing list item is an OverrideError."""
    parts = split_path(path)
    if parts[0] == "stations" and "stations" not in data and len(parts) > 1:
        parts = _station_shorthand(data, parts)
    loc: list[int | str] = []
    cur: Any = data
    i = 0
    while i < len(parts):
        part = parts[i]
        here = format_loc(tuple(loc))
        if isinstance(cur, list):
            if isinstance(part, int):
                if part >= len(cur):
                    raise OverrideError(f"{here}[{part}]: no such item ({here} has {len(cur)})")
                loc.append(part)
                cur = cur[part]
                i += 1
                continue
            hit = _find_named(cur, parts, i)
            if hit is None:
                names = [n for n in map(_item_name, cur) if n is not None]
                what = ", ".join(names) if names else f"{len(cur)} unnamed items"
                raise OverrideError(f"{here}: no item {part!r} ({here}: {what})")
            loc.append(hit[0])
            cur = cur[hit[0]]
            i += hit[1]
            continue
        if isinstance(part, int):
            raise OverrideError(f"{here}: is not a list, so [{part}] names nothing")
        if cur is None or isinstance(cur, Mapping):
            loc.append(part)
            cur = None if cur is None else cur.get(part)
            i += 1
            continue
        if isinstance(cur, int | float) and not isinstance(cur, bool) and part in ("mean", "cv"):
            # `cycle_s: 48` is shorthand for {mean: 48, cv: 0}: its mean or cv can still be set.
            loc.append(part)
            cur = None
            i += 1
            continue
        raise OverrideError(f"{here}: is a value ({cur!r}), it has no key {part!r}")
    return tuple(loc)


def set_at(data: dict[str, Any], loc: Loc, value: Any) -> None:
    cur: Any = data
    for j, part in enumerate(loc[:-1]):
        nxt = cur[part] if isinstance(cur, list) else cur.get(part)
        if nxt is None:
            nxt = {}
        elif isinstance(nxt, int | float) and not isinstance(nxt, bool):
            nxt = {"mean": nxt, "cv": 0.0}
        elif not isinstance(nxt, dict | list):
            raise OverrideError(f"{format_loc(loc[: j + 1])}: is a value, it has no keys")
        cur[part] = nxt
        cur = nxt
    cur[loc[-1]] = value


def _default_cycle(data: dict[str, Any], loc: Loc) -> None:
    """A station without `cycle_s` runs at its ideal cycle: setting only its cv keeps that."""
    if len(loc) == 6 and loc[0] == "lines" and loc[2] == "stations" and loc[4] == "cycle_s":
        st = data["lines"][loc[1]]["stations"][loc[3]]
        if st.get("cycle_s") is None and "ideal_cycle_s" in st:
            st["cycle_s"] = {"mean": st["ideal_cycle_s"], "cv": 0.0}


def _annotation_at(loc: Loc) -> Any:
    """The schema's type at `loc` (None when the schema has no such key)."""
    tp: Any = PlantConfig
    for part in loc:
        tp = unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            if typing.get_origin(tp) is not list or not args:
                return None
            tp = args[0]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return tp


def is_list_key(loc: Loc) -> bool:
    return typing.get_origin(unwrap(_annotation_at(loc))) is list


def apply(
    base: PlantConfig, values: Mapping[str, Any], source: str = "scenario"
) -> tuple[PlantConfig, tuple[Override, ...]]:
    """`base` with every key path in `values` set, validated like a config file. Raises
    ConfigError listing every problem, each as `key.path: reason`."""
    data = base.model_dump(mode="json", exclude_unset=True)
    errors: list[str] = []
    done: list[Override] = []
    for path, value in values.items():
        try:
            loc = resolve(data, path)
            if loc and loc[0] in RESERVED:
                raise OverrideError(
                    "set by the experiment (replication r runs with seed + r), not by a scenario"
                )
            if loc and (loc[-1] in ("id", "lines", "stations") or loc == ("lines",)):
                raise OverrideError(
                    "a scenario changes parameters, not the plant's structure (lines and "
                    "stations are compared with the baseline's by id)"
                )
            _default_cycle(data, loc)
            set_at(data, loc, value)
        except OverrideError as exc:
            errors.append(f"{path}: {exc}")
            continue
        done.append(Override(path, loc, value))
    if errors:
        raise ConfigError(source, errors)
    cfg = parse_config(data, source)
    if _structure(cfg) != _structure(base):
        # A whole line or station set at once (`lines[0]`, `lines.l1.stations.b`) passes the
        # key checks above; compared by id with the baseline, its runs could not be paired.
        whole = [o.path for o in done if o.loc[:1] == ("lines",) and len(o.loc) <= 4]
        raise ConfigError(
            source,
            [
                f"{path}: a scenario changes parameters, not the plant's structure (its lines "
                "and stations, by id and in order, stay the baseline's)"
                for path in whole or [o.path for o in done]
            ],
        )
    return cfg, tuple(done)


def _structure(cfg: PlantConfig) -> list[tuple[str, list[str]]]:
    return [(line.id, [st.id for st in line.stations]) for line in cfg.lines]


def live_params(
    cfg: PlantConfig, overrides: Sequence[Override]
) -> tuple[list[LiveParam], list[str]]:
    live: list[LiveParam] = []
    not_live: list[str] = []
    for ov in overrides:
        loc = ov.loc
        if len(loc) >= 5 and loc[0] == "lines" and loc[2] == "stations":
            line = cfg.lines[int(loc[1])]
            st = line.stations[int(loc[3])]
            key = ".".join(str(p) for p in loc[4:])
            if key in ("cycle_s", "setup_min"):
                dist = st.cycle if key == "cycle_s" else st.setup_min
                if dist is not None:
                    live += [
                        LiveParam(line.id, line.area, st.id, f"{key}.mean", dist.mean),
                        LiveParam(line.id, line.area, st.id, f"{key}.cv", dist.cv),
                    ]
                    continue
            elif key in LIVE_PARAMS:
                value = _value_at(cfg, loc)
                if isinstance(value, int | float):
                    live.append(LiveParam(line.id, line.area, st.id, key, float(value)))
                    continue
        not_live.append(ov.where)
    return live, not_live


def _value_at(cfg: PlantConfig, loc: Loc) -> Any:
    cur: Any = cfg
    for part in loc:
        cur = cur[part] if isinstance(part, int) else getattr(cur, part, None)
        if cur is None:
            return None
    return cur


# -- scenario files ----------------------------------------------------------------------------


class _ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    set: Annotated[dict[str, Any], Field(min_length=1)]


class ScenarioFile(BaseModel):
    """The scenario file (docs/whatif.md): `scenarios:`, a list of `{name, set}`."""

    model_config = ConfigDict(extra="forbid")
    scenarios: Annotated[list[_ScenarioSpec], Field(min_length=1)]


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _short(ov_path: str, loc: Loc, cfg: PlantConfig) -> str:
    """A short label for an override: `cnc-02.mttr_min` for a station key, else the path."""
    if len(loc) >= 5 and loc[0] == "lines" and loc[2] == "stations":
        st = cfg.lines[int(loc[1])].stations[int(loc[3])]
        return ".".join([st.id, *(str(p) for p in loc[4:])])
    return ov_path


def expand(
    base: PlantConfig,
    data: Any,
    source: str = "scenarios",
    max_scenarios: int = MAX_SCENARIOS,
) -> list[Scenario]:
    """The scenarios of a parsed scenario file, sweeps expanded (a list value for a key that is
    not itself a list gives one scenario per item; several sweeps in one scenario give every
    combination). The baseline (the base config unchanged) comes first. Every scenario is
    validated before any runs; ConfigError lists every problem of every scenario.
    TooManyScenarios when the sweeps would make more than `max_scenarios` (the baseline
    included): counted before any is made, since a few sweeps multiply into millions."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): must be a mapping with a `scenarios:` list"])
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_errors(exc, ScenarioFile)) from None
    probe = base.model_dump(mode="json", exclude_unset=True)
    out: list[Scenario] = [Scenario(BASELINE, base)]
    errors: list[str] = []
    seen: dict[str, str] = {BASELINE: "the base config"}
    # First every scenario's axes (and its key-path errors), to count the combinations before
    # making any; then each combination made and validated, errors kept in scenario order.
    plans: list[tuple[int, _ScenarioSpec, list[list[tuple[str, Any]]], list[str]]] = []
    for i, sc in enumerate(spec.scenarios):
        where = f"scenarios[{i}]"
        axes: list[list[tuple[str, Any]]] = []
        own: list[str] = []
        for path, value in sc.set.items():
            try:
                loc = resolve(probe, path)
            except OverrideError as exc:
                own.append(f"{where}.set.{path}: {exc}")
                continue
            if isinstance(value, list) and not is_list_key(loc):
                if not value:
                    own.append(f"{where}.set.{path}: an empty sweep (give at least one value)")
                    continue
                axes.append([(path, v) for v in value])
            elif isinstance(value, list) and value and all(isinstance(v, list) for v in value):
                axes.append([(path, v) for v in value])  # a sweep of lists (shift days ...)
            else:
                axes.append([(path, value)])
        plans.append((i, sc, axes, own))
    count = 1 + sum(math.prod(len(a) for a in axes) for _, _, axes, own in plans if not own)
    if count > max_scenarios:
        raise TooManyScenarios(source, count, max_scenarios)
    for i, sc, axes, own in plans:
        if own:
            errors.extend(own)
            continue
        where = f"scenarios[{i}]"
        sweep = any(len(a) > 1 for a in axes)
        for combo in itertools.product(*axes):
            values = dict(combo)
            label = (
                f"{where} ({', '.join(f'{p}={_show(v)}' for p, v in combo)})" if sweep else where
            )
            try:
                cfg, ovs = apply(base, values, label)
            except ConfigError as exc:
                errors.extend(f"{label}: {e}" for e in exc.errors)
                continue
            parts = [f"{_short(o.path, o.loc, base)}={_show(o.value)}" for o in ovs]
            if sc.name is None:
                name = ", ".join(parts)
            elif sweep:
                varied = [
                    f"{_short(o.path, o.loc, base)}={_show(o.value)}"
                    for o, ax in zip(ovs, axes, strict=True)
                    if len(ax) > 1
                ]
                name = f"{sc.name} ({', '.join(varied)})"
            else:
                name = sc.name
            if name in seen:
                errors.append(f"{where}.name: {name!r} is already the name of {seen[name]}")
                continue
            seen[name] = where
            out.append(Scenario(name, cfg, ovs))
    if errors:
        raise ConfigError(source, errors)
    return out


def load_scenarios(path: str | Path, base: PlantConfig) -> list[Scenario]:
    return expand(base, read_yaml(path), str(Path(path)))


# -- sensitivity -------------------------------------------------------------------------------


def _moved(param: str, base_value: float, factor: float, floor: float) -> float | None:
    if param == "buffer":
        v = max(1, round(base_value * factor))
        if v == base_value:
            v = int(base_value) + (1 if factor > 1 else -1)
        return float(v) if v >= 1 else None
    # 12 significant digits: 48 x 1.1 is 52.8 in the scenario's name and value, not
    # 52.800000000000004 (binary floating point), with no effect a run could show.
    return max(floor, float(f"{base_value * factor:.12g}"))


def _moves(base: PlantConfig, percent: float) -> Iterator[tuple[Any, Any, str, str, float, float]]:
    """(line, station, parameter, direction, base value, moved value) of every sensitivity
    scenario, without making any (see sensitivity)."""
    if not (0 < percent < 100) or math.isnan(percent):
        raise ValueError(f"the sensitivity step must be between 0 and 100 %, got {percent:g}")
    for line in base.lines:
        for k, st in enumerate(line.stations):
            last = k == len(line.stations) - 1
            for param in SENSITIVITY_PARAMS:
                if param == "buffer" and last:
                    continue
                if param in ("mtbf_min", "mttr_min") and st.mtbf_min is None:
                    continue
                base_value = {
                    "mtbf_min": st.mtbf_min,
                    "mttr_min": st.mttr_min,
                    "cycle_s.mean": st.cycle.mean,
                    "buffer": float(st.buffer),
                }[param]
                assert base_value is not None
                floor = st.ideal_cycle_s if param == "cycle_s.mean" else 0.0
                for direction, factor in (("low", 1 - percent / 100), ("high", 1 + percent / 100)):
                    value = _moved(param, base_value, factor, floor)
                    if value is None or value == base_value:
                        continue
                    yield line, st, param, direction, base_value, value


def sensitivity_count(base: PlantConfig, percent: float) -> int:
    """How many scenarios sensitivity() makes (the baseline included), without validating
    each: a bound can refuse a large plant's run at once (225 stations make 1,751 scenarios,
    ~25 s to make)."""
    return 1 + sum(1 for _ in _moves(base, percent))


def sensitivity(base: PlantConfig, percent: float) -> list[Scenario]:
    """The baseline, then each station's MTBF, MTTR, mean cycle and buffer moved down and up by
    `percent` one at a time. A mean cycle is never set below the ideal cycle (the config's own
    rule): there the low value is the ideal cycle and the scenario says so in `meta`. A buffer
    moves by at least one place; the last station of a line has none; a station that never
    fails has no MTBF or MTTR to move."""
    out: list[Scenario] = [Scenario(BASELINE, base)]
    for line, st, param, direction, base_value, value in _moves(base, percent):
        shown: Any = int(value) if param == "buffer" else value
        path = f"lines.{line.id}.stations.{st.id}.{param}"
        cfg, ovs = apply(base, {path: shown}, f"{st.id}.{param} {direction}")
        out.append(
            Scenario(
                f"{st.id}.{param} {direction} ({_show(shown)})",
                cfg,
                ovs,
                meta={
                    "line": line.id,
                    "station": st.id,
                    "parameter": param,
                    "direction": direction,
                    "base": base_value,
                    "value": float(value),
                    "change": (value - base_value) / base_value,
                },
            )
        )
    return out
