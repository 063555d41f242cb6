"""The telemetry contract v1: topic layout, channels and payload models (docs/architecture.md,
The telemetry contract).

shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/<channel>
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from shopfloor.kpi import STATES

ROOT = "shopfloor"
VERSION = "v1"
# Outbound channels carry `seq`, one counter per machine across all of them; `status` does not,
# because the MQTT last will is fixed at connect time and cannot know the next seq.
# `material` (issue 12): a delivery of raw material to a line, on its first station's topic.
MATERIAL_CHANNEL = "material"
# `order` (issue 12): a work order of a line released, started or finished, on the topic of
# the line's first station (where orders enter the line); OrderPayload.
ORDER_CHANNEL = "order"
SEQ_CHANNELS: tuple[str, ...] = (
    "state",
    "count",
    "telemetry",
    "energy",
    MATERIAL_CHANNEL,
    ORDER_CHANNEL,
)
# The collector's watermark of a machine (WatermarkPayload): published by the collector, read by
# the simulator; not telemetry, so a collector reads its own watermarks back and ignores them.
WATERMARK_CHANNEL = "stored"
CHANNELS: tuple[str, ...] = (*SEQ_CHANNELS, "status", "cmd", WATERMARK_CHANNEL)
RETAINED: frozenset[str] = frozenset({"state", "status"})
# Numeric codes of the states, for stores that keep numbers only (index in kpi.STATES).
STATE_CODE: dict[str, int] = {s: i for i, s in enumerate(STATES)}


class TopicParts(NamedTuple):
    enterprise: str
    site: str
    area: str
    line: str
    machine: str
    channel: str


def plant_prefix(enterprise: str, site: str) -> str:
    return f"{ROOT}/{VERSION}/{enterprise}/{site}"


def machine_prefix(enterprise: str, site: str, area: str, line: str, machine: str) -> str:
    return f"{plant_prefix(enterprise, site)}/{area}/{line}/{machine}"


def topic(enterprise: str, site: str, area: str, line: str, machine: str, channel: str) -> str:
    return f"{machine_prefix(enterprise, site, area, line, machine)}/{channel}"


def plant_filter(enterprise: str, site: str, channel: str = "+") -> str:
    """An MQTT subscription filter for one channel (or all) of every machine of a plant."""
    return f"{plant_prefix(enterprise, site)}/+/+/+/{channel}"


def watermark_topic(enterprise: str, site: str, area: str, line: str, machine: str) -> str:
    """Where the collector publishes a machine's watermark (retained, QoS 1)."""
    return topic(enterprise, site, area, line, machine, WATERMARK_CHANNEL)


def watermark_filter(enterprise: str, site: str) -> str:
    """The subscription to the watermarks of every machine of a plant (the simulator's)."""
    return plant_filter(enterprise, site, WATERMARK_CHANNEL)


# The active alerts of a plant (shopfloor.alerts): published retained by the collector as
# {"ts", "alerts": [{kind, subject, since, value, threshold}, ...]}; five levels, so neither a
# machine filter nor the plant's cmd topic matches it.
ALERTS_LEVEL = "alerts"


def alerts_topic(enterprise: str, site: str) -> str:
    return f"{plant_prefix(enterprise, site)}/{ALERTS_LEVEL}"


def parse_topic(text: str) -> TopicParts | None:
    parts = text.split("/")
    if len(parts) != 8 or parts[0] != ROOT or parts[1] != VERSION:
        return None
    if any(not p for p in parts) or parts[7] not in CHANNELS:
        return None
    return TopicParts(*parts[2:])


# One integer bound for every store: |n| < 2**53 is exact in a float64 (InfluxDB fields, JSON
# readers) and far inside SQLite's int64, so no store can overflow or round a stored integer.
MAX_INT = 2**53 - 1
# Process values: lowercase snake_case with the unit in the name (`spindle_temp_c`); the pattern
# also keeps every character line protocol would have to escape out of field keys.
PROCESS_VALUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_PROCESS_VALUES = 32
MAX_REASON_CHARS = 200

EpochMs = Annotated[int, Field(ge=0, le=MAX_INT)]
Seq = Annotated[int, Field(ge=0, le=MAX_INT)]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Printable text: no control characters (a newline would split a line-protocol point in some
# readers, and a dead letter or log line in all of them).
Text = Annotated[
    str, StringConstraints(max_length=MAX_REASON_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$")
]

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Payload(BaseModel):
    model_config = _STRICT

    ts: EpochMs
    seq: Seq


class StatePayload(_Payload):
    state: Literal["running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "off"]
    reason: Text = ""


class CountPayload(_Payload):
    total: Count
    good: Count
    scrap: Count
    # Issue 12: the sum of each counted part's own ideal cycle (cumulative, s), sent by the
    # stations of a line with products, whose parts differ: performance = its rise over run time.
    ideal_s: NonNeg | None = None


class TelemetryPayload(BaseModel):
    """power_kw always; process values per machine kind as extra `<name>_<unit>` numbers: at
    most MAX_PROCESS_VALUES of them, each named by PROCESS_VALUE_NAME, each a finite number."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    __pydantic_extra__: dict[str, Finite]

    ts: EpochMs
    seq: Seq
    power_kw: NonNeg

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            extra = [k for k in data if k not in ("ts", "seq", "power_kw")]
            for key in extra:
                if not isinstance(key, str) or not PROCESS_VALUE_NAME.fullmatch(key):
                    raise PydanticCustomError(
                        "bad_key",
                        "process value name {key} is not lowercase snake_case "
                        "(a letter, then a-z, 0-9 or _, at most 64 characters)",
                        {"key": repr(key)[:80]},
                    )
            if len(extra) > MAX_PROCESS_VALUES:
                raise PydanticCustomError(
                    "too_many_values",
                    "{n} process values, at most {limit}",
                    {"n": len(extra), "limit": MAX_PROCESS_VALUES},
                )
        return data


class EnergyPayload(_Payload):
    energy_kwh: NonNeg


class MaterialPayload(_Payload):
    """A delivery of raw material (issue 12) into the inventory in front of a line's first
    station, published on that station's `material` channel: what was ordered and delivered,
    whether it came late or short, and the units on hand once it is in."""

    material: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    supplier: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    ordered: Count
    delivered: Count
    late: bool
    short: bool
    level: Count
    lead_time_s: NonNeg


OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class OrderPayload(_Payload):
    """A work order of the line (issue 12; shopfloor.orders), sent when it is `released`,
    `started` (its first part taken by the first station) and `finished` (its last part out
    of the last station or scrapped), and `progress` as a run ends with it in flight. Each
    event carries the whole order so far, so the latest one is its state: start_ts from
    `started` on, finish_ts from `finished`; good and scrap count its parts so far (good: out
    of the last station)."""

    order_id: OrderId
    product: OrderId
    # progress (issue 12, a restart): sent as a run ends for an order in flight, its parts
    # so far, so a restarted plant goes on with them (simulator/resume.py).
    event: Literal["released", "started", "finished", "progress"]
    quantity: Annotated[int, Field(ge=1, le=MAX_INT)]
    release_ts: EpochMs
    due_ts: EpochMs
    start_ts: EpochMs | None = None
    finish_ts: EpochMs | None = None
    good: Count = 0
    scrap: Count = 0


class PowerByState(BaseModel):
    """Rated power in each state (kW): every one of shopfloor.kpi.STATES, nothing else."""

    model_config = _STRICT

    running: NonNeg
    idle: NonNeg
    starved: NonNeg
    blocked: NonNeg
    down: NonNeg
    setup: NonNeg
    planned_stop: NonNeg
    off: NonNeg


MAX_LINE_LENGTH = 10_000
BIRTH_FIELDS: tuple[str, ...] = (
    "ts",
    "online",
    "kind",
    "position",
    "line_length",
    "connectivity",
    "ideal_cycle_s",
    "power_kw",
    "sample_interval_s",
)


class StrokeMeterInfo(BaseModel):
    """A legacy machine's meter that sees each cycle's stroke (issue 12): optional in its
    birth, it tells the collector's cycle counter what peak to look for (collector/cycles.py)."""

    model_config = _STRICT

    stroke_kw: Positive
    stroke_s: Positive


class StatusPayload(BaseModel):
    """Birth: `online: true` with every one of BIRTH_FIELDS (simulator/plant.py `_birth`, the
    emitter adds ts). Death: `online: false`, with ts when the simulator stops cleanly and
    without it as the MQTT last will (fixed at connect time)."""

    model_config = _STRICT

    online: bool
    ts: EpochMs | None = None
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    position: Annotated[int, Field(ge=0, lt=MAX_LINE_LENGTH)] | None = None
    line_length: Annotated[int, Field(ge=1, le=MAX_LINE_LENGTH)] | None = None
    connectivity: Literal["full", "legacy"] | None = None
    ideal_cycle_s: Positive | None = None
    power_kw: PowerByState | None = None
    sample_interval_s: Positive | None = None
    meter: StrokeMeterInfo | None = None  # optional: a legacy machine's stroke meter (issue 12)

    @model_validator(mode="after")
    def _birth_or_death(self) -> StatusPayload:
        given = {k for k in self.model_fields_set if getattr(self, k) is not None}
        if self.online:
            missing = [k for k in BIRTH_FIELDS if k not in given]
            if missing:
                raise PydanticCustomError(
                    "birth_fields", "a birth lacks {missing}", {"missing": ", ".join(missing)}
                )
            assert self.position is not None and self.line_length is not None
            if self.position >= self.line_length:
                raise PydanticCustomError(
                    "birth_fields",
                    "position {p} is not inside a line of {n}",
                    {"p": self.position, "n": self.line_length},
                )
        else:
            more = sorted(given - {"online", "ts"})
            if more:
                raise PydanticCustomError(
                    "death_fields",
                    "a death carries only ts and online, not {more}",
                    {"more": ", ".join(more)},
                )
        return self


class WatermarkPayload(BaseModel):
    """A machine's watermark on `<machine prefix>/stored` (retained, QoS 1), published by the
    collector once records are durably stored: every seq of the machine up to `seq` is stored
    (or was refused by the store for good), so a publisher may forget those and must send again
    what lies above it. It is the highest *contiguous* seq: a hole holds it back, which means
    "send again from the hole". `run` names the collector process that published it (a restarted
    collector is a new run; its watermark starts from what the store holds)."""

    model_config = _STRICT

    seq: Seq
    run: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
