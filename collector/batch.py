"""The collector's side of the batch form (shopfloor/batch.py; docs/architecture.md, Batches):
one message of a sampled channel carrying several samples, each checked as a single message
would be, so that one bad element costs only itself."""

from __future__ import annotations

from typing import Any

import orjson

from collector.validate import Reject, check
from shopfloor.batch import BATCH_CHANNELS, BATCH_KEY, BATCH_MAX, BATCH_VERSION
from shopfloor.contract import TopicParts
from shopfloor.store.base import Record


def expand(
    parts: TopicParts, data: dict[str, Any], raw: bytes, now_ms: int, max_future_ms: int
) -> list[Record | Reject]:
    """A batch into a Record or a Reject per element, in the batch's order. A batch that is
    wrong as a whole (a channel without batches, another version, not a list, too long) is one
    Reject. A bad element's Reject carries that element's own JSON as its dead letter."""
    if parts.channel not in BATCH_CHANNELS:
        return [
            Reject(
                "schema",
                f"batch: channel {parts.channel!r} takes single messages only (batches: "
                f"{', '.join(sorted(BATCH_CHANNELS))})",
            )
        ]
    if set(data) != {"v", "batch"} or data["v"] != BATCH_VERSION or type(data["v"]) is not int:
        return [
            Reject("schema", f"batch: the envelope is {{'v': {BATCH_VERSION}, 'batch': [...]}}")
        ]
    elements = data["batch"]
    if not isinstance(elements, list) or not elements:
        return [Reject("schema", "batch: 'batch' is not a non-empty list")]
    if len(elements) > BATCH_MAX:
        return [Reject("schema", f"batch: {len(elements)} elements, at most {BATCH_MAX}")]
    if BATCH_KEY not in raw:
        # The buffer bound reserves room for a batch by finding the key in the raw bytes.
        return [Reject("schema", "batch: the key 'batch' must be written without escapes")]
    out: list[Record | Reject] = []
    for i, element in enumerate(elements):
        if not isinstance(element, dict):
            got: Record | Reject = Reject(
                "not_object", f"a JSON {type(element).__name__}, not an object"
            )
        else:
            got = check(parts, element, now_ms, max_future_ms)
        if isinstance(got, Reject):
            got.detail = f"batch[{i}]: {got.detail}"[:500]
            got.raw = orjson.dumps(element)
        out.append(got)
    return out
