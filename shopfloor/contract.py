"""The telemetry contract v1: topic layout, channels and payload models (docs/architecture.md,
The telemetry contract).

shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/<channel>
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.kpi import STATES

ROOT = "shopfloor"
VERSION = "v1"
# Outbound channels carry `seq`, one counter per machine across all of them; `status` does not,
# because the MQTT last will is fixed at connect time and cannot know the next seq.
SEQ_CHANNELS: tuple[str, ...] = ("state", "count", "telemetry", "energy")
CHANNELS: tuple[str, ...] = (*SEQ_CHANNELS, "status", "cmd")
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


def parse_topic(text: str) -> TopicParts | None:
    parts = text.split("/")
    if len(parts) != 8 or parts[0] != ROOT or parts[1] != VERSION:
        return None
    if any(not p for p in parts) or parts[7] not in CHANNELS:
        return None
    return TopicParts(*parts[2:])


EpochMs = Annotated[int, Field(ge=0)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ts: EpochMs
    seq: Annotated[int, Field(ge=0)]


class StatePayload(_Payload):
    state: Literal["running", "idle", "starved", "blocked", "down", "setup", "planned_stop", "off"]
    reason: Annotated[str, Field(max_length=200)] = ""


class CountPayload(_Payload):
    total: Annotated[int, Field(ge=0)]
    good: Annotated[int, Field(ge=0)]
    scrap: Annotated[int, Field(ge=0)]


class TelemetryPayload(BaseModel):
    """power_kw always; process values per machine kind as extra `<name>_<unit>` numbers."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    ts: EpochMs
    seq: Annotated[int, Field(ge=0)]
    power_kw: NonNeg


class EnergyPayload(_Payload):
    energy_kwh: NonNeg


class StatusPayload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    online: bool
