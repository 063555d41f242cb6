"""Turns one raw MQTT message into a Record, or says precisely why it cannot be stored.

Every channel is validated strictly into its contract model (shopfloor.contract) and the
Record carries that model's dump, never the raw dict: what reaches a store has the contract's
types, integers within MAX_INT, finite floats, bounded text and safe field names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from collector.fastcheck import fast_payload
from shopfloor.contract import (
    WATERMARK_CHANNEL,
    CountPayload,
    EnergyPayload,
    MaterialPayload,
    OrderPayload,
    StatePayload,
    StatusPayload,
    TelemetryPayload,
    TopicParts,
    parse_topic,
)
from shopfloor.store.base import Record

MODELS: dict[str, type[BaseModel]] = {
    "state": StatePayload,
    "count": CountPayload,
    "telemetry": TelemetryPayload,
    "energy": EnergyPayload,
    "status": StatusPayload,
    "material": MaterialPayload,  # issue 12: deliveries of raw material
    "order": OrderPayload,  # issue 12: work orders released, started, finished
}
REASONS = (
    "oversized",
    "bad_topic",
    "not_json",
    "not_object",
    "schema",
    "non_finite",
    "future_ts",
    "bad_key",  # a telemetry process value name outside PROCESS_VALUE_NAME
    "too_many_values",  # more than MAX_PROCESS_VALUES process values in one message
    # Not validate()'s: the collector's reason for a seq SeqTracker.classify() quarantined.
    "seq_quarantine",
    # Sparkplug B (collector/sparkplug_in.py): not a Sparkplug payload; a DDATA alias no birth
    # named (the collector asks the edge node for its births again).
    "not_protobuf",
    "unknown_alias",
)
# Error types the contract models raise that have a reason of their own.
_OWN_REASON = {"bad_key", "too_many_values"}
# Topic levels are ids from the plant config (shopfloor.config.schema.Id): anything else (a
# space, '<script>', non-ASCII) could not come from a configured plant, and becomes store tags.
_LEVEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(slots=True)
class Reject:
    reason: str  # one of REASONS: a metrics label
    detail: str
    raw: bytes | None = None  # what to dead-letter, if not the whole message (a batch element)


class Ignore:
    """Not telemetry (commands, the collector's own watermarks): neither stored nor an error."""


IGNORE = Ignore()


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _schema_reject(exc: ValidationError) -> Reject:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(x) for x in first["loc"]) or "payload"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    reason = first["type"] if first["type"] in _OWN_REASON else "schema"
    return Reject(reason, f"{where[:100]}: {first['msg'][:200]}{more}")


def validate(
    topic: str, raw: bytes, now_ms: int, max_future_ms: int, max_bytes: int
) -> Record | Reject | Ignore | list[Record | Reject]:
    if len(raw) > max_bytes:
        return Reject("oversized", f"{len(raw)} bytes > {max_bytes}")
    parts = parse_topic(topic)
    if parts is None:
        return Reject(
            "bad_topic",
            f"not shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/<channel>: {topic[:200]!r}",
        )
    if parts.channel in ("cmd", WATERMARK_CHANNEL):  # commands; the collector's own watermarks
        return IGNORE
    for name, level in zip(parts._fields[:5], parts[:5], strict=True):
        if not _LEVEL.fullmatch(level):
            return Reject(
                "bad_topic",
                f"{name} {level[:80]!r} is not an id (A-Z, a-z, 0-9, _ . -; at most 64)",
            )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Reject("not_json", str(exc)[:200])
    if not isinstance(data, dict):
        return Reject("not_object", f"a JSON {type(data).__name__}, not an object")
    if "batch" in data:  # issue 15: several samples in one message (shopfloor/batch.py)
        from collector.batch import expand  # it builds on check() below

        return expand(parts, data, raw, now_ms, max_future_ms)
    return check(parts, data, now_ms, max_future_ms)


def by_model(channel: str, data: Any) -> dict[str, Any] | Reject:
    """`data` through its channel's contract model: the model's dump, or why not."""
    if not _finite(data):
        return Reject("non_finite", "NaN or infinite number")
    try:
        model = MODELS[channel].model_validate(data)
    except ValidationError as exc:
        return _schema_reject(exc)
    return model.model_dump(exclude_none=True)


def check(
    parts: TopicParts, data: dict[str, Any], now_ms: int, max_future_ms: int
) -> Record | Reject:
    """A message's fields, however they came (JSON, Sparkplug B), into its channel's contract
    model and a Record: the one validation every encoding goes through."""
    if parts.channel not in MODELS:
        return Reject("bad_topic", f"no channel {parts.channel[:80]!r} in the contract")
    # Issue 15: a payload already exactly of the contract's shape skips the model (a quarter
    # of the cost); anything else, rejections included, is the model's to decide.
    payload = fast_payload(parts.channel, data)
    if payload is None:
        payload = by_model(parts.channel, data)
        if isinstance(payload, Reject):
            return payload
    ts = payload.get("ts")
    if ts is not None and ts > now_ms + max_future_ms:
        return Reject(
            "future_ts",
            f"ts {ts} is {(ts - now_ms) / 1000:.0f} s ahead of this clock (window {max_future_ms / 1000:.0f} s)",
        )
    return Record(
        parts.enterprise, parts.site, parts.area, parts.line, parts.machine, parts.channel,
        ts if ts is not None else now_ms, payload.get("seq"), payload,
    )  # fmt: skip
