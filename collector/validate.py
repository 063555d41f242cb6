"""Turns one raw MQTT message into a Record, or says precisely why it cannot be stored."""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson
from pydantic import BaseModel, ValidationError

from shopfloor.contract import (
    CountPayload,
    EnergyPayload,
    StatePayload,
    StatusPayload,
    TelemetryPayload,
    parse_topic,
)
from shopfloor.store.base import Record

MODELS: dict[str, type[BaseModel]] = {
    "state": StatePayload,
    "count": CountPayload,
    "telemetry": TelemetryPayload,
    "energy": EnergyPayload,
    "status": StatusPayload,
}
REASONS = ("oversized", "bad_topic", "not_json", "not_object", "schema", "non_finite", "future_ts")


@dataclass(slots=True)
class Reject:
    reason: str  # one of REASONS: a metrics label
    detail: str


class Ignore:
    """Not telemetry (commands and their replies): neither stored nor an error."""


IGNORE = Ignore()


def _finite(value: object) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int | str) or value is None:
        return True
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def validate(
    topic: str, raw: bytes, now_ms: int, max_future_ms: int, max_bytes: int
) -> Record | Reject | Ignore:
    if len(raw) > max_bytes:
        return Reject("oversized", f"{len(raw)} bytes > {max_bytes}")
    parts = parse_topic(topic)
    if parts is None:
        return Reject(
            "bad_topic",
            f"not shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/<channel>: {topic[:200]!r}",
        )
    if parts.channel == "cmd":
        return IGNORE
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Reject("not_json", str(exc)[:200])
    if not isinstance(data, dict):
        return Reject("not_object", f"a JSON {type(data).__name__}, not an object")
    if not _finite(data):
        return Reject("non_finite", "NaN or infinite number")
    model = MODELS[parts.channel]
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "payload"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return Reject("schema", f"{where}: {first['msg']}{more}")
    if parts.channel == "telemetry":
        for key, value in data.items():
            if key not in ("ts", "seq") and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                return Reject("schema", f"{key}: a process value must be a number")
    ts = data.get("ts")
    if ts is not None and ts > now_ms + max_future_ms:
        return Reject(
            "future_ts",
            f"ts {ts} is {(ts - now_ms) / 1000:.0f} s ahead of this clock (window {max_future_ms / 1000:.0f} s)",
        )
    return Record(
        parts.enterprise, parts.site, parts.area, parts.line, parts.machine, parts.channel,
        int(ts) if ts is not None else now_ms, data.get("seq"), data,
    )  # fmt: skip
